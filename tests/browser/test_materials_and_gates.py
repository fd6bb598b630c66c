"""Materials received, the review gates and an explicit 容缺, in headless Chromium at 360 px against a
running platform (Rasa not needed):
- a case handed in at a counter shows the town reviewer each material ✓ 已收 with when (China time),
  where and in which form, the missing deferrable one as 可容缺后补;
- a case returned for correction: its agent records the corrected papers on the workbench, the case goes
  back to review and the review file's row turns ✓ 已收; the visit is listed with its place;
- approval is not offered while a non-deferrable material is missing (the reason is shown, the 退回补正
  list pre-ticks only what cannot follow later); with only a deferrable gap on a 容缺-listed item the
  reviewer is offered 同意容缺（后补：…）, which approves the case; the agent's move to the department is
  then refused until the 容缺 is opened.
Every case is new, with a fresh synthetic applicant, so the tests run against a shared platform.
Screenshots: test-artifacts/screenshots/materials-<step>.png."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (DEMO_PASSWORD, PHONE, PLATFORM, SERVICE, api, bearer, holder_username,
                                    new_page, screenshot)
from tests.synthetic import fresh_id_number

# 渭门镇: a town the other browser tests leave alone.
TOWN, TOWN_CODE = "渭门镇", "513223111"
REVIEWER = "reviewer-weimen"
WINDOW = "county:window:513223111"
WINDOW_NAME = "尔玛云便民服务代办点渭门镇窗口"
ITEM = "MX-013"  # 高龄津贴: on the 容缺 list, one deferrable material
FORM, ID_CARD, HUKOU = "高龄津贴申请表", "申请人居民身份证", "户口簿"
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"


def open_case(received: list[tuple[str, str]], have: list[str] = (), **overrides) -> dict:
    """A 高龄津贴 case of 渭门镇 for a new applicant: handed in at the town's county window with
    `received` [(name, original|copy)], plus materials the resident only said they have."""
    body = {"service_code": ITEM, "applicant_name": "杨" + "春秋冬夏梅兰竹菊"[uuid.uuid4().int % 8] + "妹",
            "id_number": fresh_id_number(), "phone": "13812345678", "hukou_town": TOWN, "hukou_village": None,
            "current_location": TOWN, "intake_point": WINDOW, "channel": "counter", "conversation_id": None,
            "materials_have": list(have), "materials_received": [{"name": n, "form": f} for n, f in received],
            "repeat_confirmed": True}
    body.update(overrides)
    case = api("POST", "/api/v1/cases", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex}).json()
    case["id_number_full"] = body["id_number"]
    return case


def china_time(iso: str) -> str:
    """How the pages write an instant: its China time, e.g. 2026年12月5日 23:43."""
    t = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Shanghai"))
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"


@pytest.fixture
def page(browser: Browser) -> Page:
    """A 360-px phone set to China time; a script error on the page fails the test."""
    yield from _watched(new_page(browser, PHONE))


@pytest.fixture
def utc_page(browser: Browser) -> Page:
    """A 360-px phone whose clock is set to UTC: the pages must still show China time."""
    yield from _watched(new_page(browser, PHONE, timezone_id="UTC"))


def _watched(p: Page):
    errors: list[str] = []
    p.on("pageerror", lambda error: errors.append(str(error)))
    yield p
    p.context.close()
    assert errors == []


def sign_in(page: Page, username: str, path: str) -> None:
    page.goto(f"{PLATFORM}{path}")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}{path}")


def row(page: Page, material: str):
    return page.locator(f'.check-row[data-material="{material}"]')


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_materials_handed_in_show_ticked_to_the_town_reviewer_and_a_deferrable_gap_is_approved_as_rongque(
        utc_page: Page):
    page = utc_page
    case = open_case([(FORM, "original"), (ID_CARD, "original"), (HUKOU, "copy")])
    no = case["case_no"]
    reviewer = bearer(REVIEWER)
    file = api("GET", f"/api/v1/cases/{no}/review", headers=reviewer).json()
    received_at = {m["name"]: m["receipts"][0]["at"] for m in file["checklist"] if m["receipts"]}
    sign_in(page, REVIEWER, f"/staff/review/cases/{no}")

    # Each handed-in material: ✓ 已收, when (China time, though this phone is set to UTC), where, which form.
    for material, form in ((FORM, "原件"), (ID_CARD, "原件"), (HUKOU, "复印件")):
        expect(row(page, material).locator(".mat-status")).to_have_text("✓ 已收")
        receipt = row(page, material).locator(".receipt")
        expect(receipt).to_contain_text(WINDOW_NAME)
        expect(receipt).to_contain_text(form)
        expect(receipt).to_contain_text(china_time(received_at[material]))
    # The one not handed in: missing, but it may follow later on this 容缺 item.
    expect(row(page, DEFERRABLE).locator(".mat-status")).to_have_text("✗ 缺")
    expect(row(page, DEFERRABLE).locator(".mat-defer")).to_have_text("可容缺后补")
    # The counter intake was one trip, listed with its place.
    expect(page.locator("#visits")).to_contain_text(f"递交材料（{WINDOW_NAME}）")
    assert case["id_number_full"] not in page.content()
    no_sideways_scroll(page)
    screenshot(page, "materials-01-received")

    # Not 审核通过 (a material is missing): the reason is shown; 同意容缺 names what follows later.
    expect(page.locator('input[name="decision"][value="approve"]')).to_have_count(0)
    expect(page.locator("#approve-blocked")).to_be_visible()
    expect(page.locator("#approve-blocked")).to_contain_text(DEFERRABLE)
    rongque = page.locator("label.choice", has_text="同意容缺")
    expect(rongque).to_have_text(f"同意容缺（后补：{DEFERRABLE}）")
    # 退回补正 pre-ticks nothing: the only gap may follow later, listed as 容缺.
    page.locator("label.choice", has_text="退回补正").click()
    expect(page.locator('input[name="deficiencies"]:checked')).to_have_count(0)
    expect(page.locator("#deficiency-list label", has_text=DEFERRABLE)).to_contain_text("容缺")
    screenshot(page, "materials-02-rongque-offered")

    rongque.click()
    expect(page.locator("#deficiency-box")).to_be_hidden()
    page.fill("#opinion", "社保卡在外地子女处，同意先行办理")
    page.locator("#decide-submit").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/review?town={TOWN_CODE}")
    expect(page.locator("#done")).to_contain_text(f"办件 {no}（高龄津贴（高龄老人生活补贴）申请）：同意容缺（后补：{DEFERRABLE}）。")
    assert api("GET", f"/api/v1/cases/{no}", headers=reviewer).json()["stage"] == "approved"
    page.goto(f"{PLATFORM}/staff/review/cases/{no}")
    expect(page.locator("#c-stage")).to_have_text("户籍地镇审核通过")
    expect(page.locator("#opinions")).to_contain_text("社保卡在外地子女处，同意先行办理")
    screenshot(page, "materials-03-rongque-approved")

    # The agent cannot send it to the department while the 容缺 is not opened: told what is missing.
    agent = holder_username(case)
    page.context.clear_cookies()
    sign_in(page, agent, f"/staff/cases/{no}")
    expect(page.locator("#stage")).to_have_text("户籍地镇审核通过")
    page.get_by_label("代办员已送部门办理").check()
    page.get_by_role("button", name="确认", exact=True).click()
    refused = page.locator('#progress-form [data-error-for="_form"]')
    expect(refused).to_contain_text(DEFERRABLE)
    expect(page.locator("#stage")).to_have_text("户籍地镇审核通过")
    screenshot(page, "materials-04-department-refused")

    # The resident comes to bring papers: a trip with its purpose, listed after the counter intake.
    page.get_by_label("来做什么").select_option(label="补交材料")
    page.fill("#visit-note", "带来社保卡复印件")
    page.get_by_role("button", name="登记群众跑动一次").click()
    expect(page.locator("#page-status")).to_have_text("已登记群众跑动，累计 2 次")
    expect(page.locator("#visit-list li")).to_have_count(2)
    expect(page.locator("#visit-list li").nth(1)).to_contain_text("补交材料")
    expect(page.locator("#visit-list li").nth(1)).to_contain_text("带来社保卡复印件")
    visits = api("GET", f"/api/v1/cases/{no}/review", headers=reviewer).json()["visits"]
    assert [v["purpose"] for v in visits] == ["hand_in", "supplement"]


def test_an_agent_records_the_correction_on_the_workbench_and_the_review_file_turns_received(page: Page,
                                                                                             browser: Browser):
    case = open_case([(FORM, "original"), (ID_CARD, "original"), (DEFERRABLE, "copy")], have=[HUKOU])
    no = case["case_no"]
    agent = holder_username(case)
    api("POST", f"/api/v1/cases/{no}/review", headers=bearer(REVIEWER),
        json={"decision": "return", "opinion": "户口簿要本人带原件来核对", "deficiencies": [HUKOU]})
    file = api("GET", f"/api/v1/cases/{no}/review", headers=bearer(REVIEWER)).json()
    assert next(m for m in file["checklist"] if m["name"] == HUKOU)["status"] == "missing"

    # The agent's case page: returned, the materials form open with the resubmission as its button.
    sign_in(page, agent, f"/staff/cases/{no}")
    expect(page.locator("#stage")).to_have_text("退回补正")
    expect(page.locator("#materials-form")).to_be_visible()
    submit = page.locator("#materials-submit")
    expect(submit).to_have_text("登记补正材料并重新提交审核")
    expect(page.locator("#occasion-row")).to_be_hidden()
    screenshot(page, "materials-05-returned-on-workbench")

    # Nothing ticked: told at once, nothing sent.
    submit.click()
    expect(page.locator('#materials-form [data-error-for="materials"]')).to_have_text("请勾选这次收到的材料")
    expect(page.locator("#stage")).to_have_text("退回补正")

    # 户口簿, original, the resident in person: recorded, the case back in review.
    page.locator(f'#materials-form input[name="material"][value="{HUKOU}"]').check()
    page.locator(f'#materials-form select[data-material="{HUKOU}"]').select_option("original")
    page.get_by_label("群众本人到场").check()
    submit.click()
    expect(page.locator("#page-status")).to_contain_text("已登记收到 1 项材料，办件已重新提交审核")
    expect(page.locator("#stage")).to_have_text("户籍地镇审核中")
    expect(page.locator("#materials-form")).to_be_hidden()
    # Two trips now: the counter intake and this one, each with its place and China time.
    expect(page.locator("#visits")).to_have_text("2 次")
    expect(page.locator("#visit-list li")).to_have_count(2)
    expect(page.locator("#visit-list li").nth(0)).to_contain_text(f"递交材料（{WINDOW_NAME}）")
    expect(page.locator("#visit-list li").nth(1)).to_contain_text("补交材料")
    file = api("GET", f"/api/v1/cases/{no}/review", headers=bearer(REVIEWER)).json()
    expect(page.locator("#visit-list li").nth(1)).to_contain_text(china_time(file["visits"][1]["at"]))
    assert case["id_number_full"] not in page.content()
    no_sideways_scroll(page)
    screenshot(page, "materials-06-resubmitted")

    # The review file: 户口簿 ✓ 已收 (原件, on the 补正 occasion); nothing missing, so 审核通过 is offered.
    hukou = next(m for m in file["checklist"] if m["name"] == HUKOU)
    assert (hukou["status"], hukou["status_text"]) == ("received", "✓ 已收")
    assert (hukou["receipts"][-1]["form_text"], hukou["receipts"][-1]["occasion"]) == ("原件", "resubmission")
    assert [d["decision"] for d in file["decisions"]][0] == "approve"
    reviewer_page = new_page(browser, PHONE)
    try:
        sign_in(reviewer_page, REVIEWER, f"/staff/review/cases/{no}")
        expect(row(reviewer_page, HUKOU).locator(".mat-status")).to_have_text("✓ 已收")
        expect(row(reviewer_page, HUKOU).locator(".receipt").last).to_contain_text("原件")
        expect(reviewer_page.locator("#approve-blocked")).to_be_hidden()
        expect(reviewer_page.locator("label.choice", has_text="审核通过")).to_be_visible()
        screenshot(reviewer_page, "materials-07-review-file-received")
    finally:
        reviewer_page.context.close()


def test_approval_is_refused_with_a_non_deferrable_gap(page: Page):
    # No 户口簿 at all (not deferrable) and no 社保卡 (deferrable): not approvable, not 容缺 either.
    case = open_case([(FORM, "original"), (ID_CARD, "original")])
    no = case["case_no"]
    sign_in(page, REVIEWER, f"/staff/review/cases/{no}")
    expect(row(page, HUKOU).locator(".mat-status")).to_have_text("✗ 缺")
    expect(row(page, HUKOU).locator(".mat-defer")).to_have_count(0)
    expect(row(page, DEFERRABLE).locator(".mat-defer")).to_have_text("可容缺后补")
    blocked = page.locator("#approve-blocked")
    expect(blocked).to_be_visible()
    expect(blocked).to_contain_text(HUKOU)
    expect(page.locator('input[name="decision"][value="approve"]')).to_have_count(0)
    expect(page.locator('input[name="decision"][value="approve_deferral"]')).to_have_count(0)
    expect(page.locator("#choices label.choice")).to_have_text(["退回补正", "不予受理"])

    # 退回补正: only 户口簿 is pre-ticked; the deferrable one is listed as 容缺, unticked.
    page.locator("label.choice", has_text="退回补正").click()
    expect(page.locator('input[name="deficiencies"]:checked')).to_have_count(1)
    expect(page.locator(f'input[name="deficiencies"][value="{HUKOU}"]')).to_be_checked()
    expect(page.locator(f'input[name="deficiencies"][value="{DEFERRABLE}"]')).not_to_be_checked()
    expect(page.locator("#deficiency-list label", has_text=DEFERRABLE)).to_contain_text("容缺")
    no_sideways_scroll(page)
    screenshot(page, "materials-08-approval-refused")

    # The API refuses approval too, with a Chinese message naming the material.
    r = httpx.post(f"{PLATFORM}/api/v1/cases/{no}/review", json={"decision": "approve"},
                   headers=bearer(REVIEWER), timeout=30)
    assert r.status_code == 409 and r.json()["error"]["code"] == "materials_missing"
    assert HUKOU in r.json()["error"]["message"]
    assert case["id_number_full"] not in page.content()
