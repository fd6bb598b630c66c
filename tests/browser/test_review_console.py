"""The town reviewer's console in headless Chromium, against a running platform, at 360 px and at
desktop width: sign in, find the case in the town's queue (oldest first, with age and promised date),
open it, try to return it with an empty deficiency list and then without an opinion (Chinese messages
next to the fields, nothing typed or ticked lost), return it with a list, and after the resident
resubmits, approve it (a failed network call first keeps the form). Another town's case by URL is a
Chinese 404 page with nothing of the case. Screenshots: test-artifacts/screenshots/review-<width>-<step>.png."""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (DEMO_PASSWORD, PLATFORM, SERVICE, VIEWPORTS, api, new_page, screenshot,
                                    staff_token)

CHIBUSU = "513223114"
MX001_REQUIRED = ["低保申请书（审批表）", "申请人居民身份证", "户口簿", "共同生活家庭成员身份证",
                  "家庭经济状况核对授权书（全体成年家庭成员签字）", "家庭收入、财产状况申报及承诺"]
FULL_ID = "513223198001010011"


def open_case(**overrides) -> dict:
    """A 低保 case opened as the assistant opens one, all required materials said to be at hand."""
    body = {"service_code": "MX-001", "applicant_name": "杨子妹", "id_number": FULL_ID, "phone": "13812345678",
            "hukou_town": "赤不苏镇", "hukou_village": "雅都村", "current_location": "成都",
            "intake_point": "online", "channel": "web_chat", "conversation_id": f"review-{uuid.uuid4().hex[:8]}",
            "materials_have": MX001_REQUIRED, "repeat_confirmed": True}
    body.update(overrides)
    return api("POST", "/api/v1/cases", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex}).json()


@pytest.fixture
def reviewer_page(console_page):
    console_page.width = console_page.viewport_size["width"]
    return console_page


def sign_in(page: Page, username: str, start: str) -> None:
    page.goto(f"{PLATFORM}{start}")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_a_reviewer_returns_a_case_with_the_one_time_list_and_approves_it_after_resubmission(reviewer_page: Page):
    page = reviewer_page
    shot = lambda step: screenshot(page, f"review-{page.width}-{step}")  # noqa: E731
    older, newer = open_case(), open_case()
    no = older["case_no"]
    reviewer = {"Authorization": f"Bearer {staff_token('reviewer-chibusu')}"}

    # Signed in from the start page, the reviewer lands on the town's queue.
    sign_in(page, "reviewer-chibusu", "/staff/")
    expect(page).to_have_url(f"{PLATFORM}/staff/review")
    expect(page.locator("h1")).to_have_text("赤不苏镇 · 待审核办件")
    item = page.locator(f'.queue-item[data-case-no="{no}"]')
    expect(item).to_be_visible()
    expect(item).to_contain_text("最低生活保障申请（城乡低保）")
    expect(item).to_contain_text("杨子妹 · 513223********0011 · 雅都村")
    expect(item.locator(".age")).to_have_text("已等 不到 1 小时")
    expect(item).to_contain_text("承诺办结日期 " + older["expected_completion_date"])
    # Oldest first: the earlier case stands above the later one.
    order = page.locator(".queue-item").evaluate_all("(links) => links.map((a) => a.dataset.caseNo)")
    assert order.index(no) < order.index(newer["case_no"])
    assert FULL_ID not in page.content()
    shot("01-queue")

    # The case: applicant (masked), item, checklist against the item's list, intake point, history.
    item.click()
    expect(page).to_have_url(f"{PLATFORM}/staff/review/cases/{no}")
    expect(page.locator("#c-service")).to_have_text("最低生活保障申请（城乡低保）")
    expect(page.locator("#c-stage")).to_have_text("户籍地镇审核中")
    expect(page.locator("#c-applicant")).to_have_text("杨子妹")
    expect(page.locator("#c-id")).to_have_text("513223********0011")
    expect(page.locator("#c-intake")).to_have_text("尔玛云线上服务（网页聊天 / 微信公众号）")
    # A promise counted over a year with no official holiday arrangement yet is marked provisional.
    provisional = "（暂定）" if older["expected_completion_provisional"] else ""
    expect(page.locator("#c-due")).to_have_text(older["expected_completion_date"] + provisional)
    expect(page.locator('.check-row[data-material="户口簿"] .mat-status')).to_have_text("群众自述已有，待收取")
    expect(page.locator('.check-row[data-material="委托代办书（代办时）"] .mat-status')).to_have_text("视情况提供")
    expect(page.locator("#history")).to_contain_text("已收件 → 户籍地镇审核中")
    expect(page.locator("#opinions")).to_have_text("还没有审核意见")
    assert FULL_ID not in page.content() and "13812345678" not in page.content()
    shot("02-case")

    # Return with an empty list: the platform's message next to the list; the opinion stays.
    page.locator("label.choice", has_text="退回补正").click()
    expect(page.locator("#deficiency-box")).to_be_visible()
    expect(page.locator("#decide-submit")).to_have_text("退回补正并告知居民")
    page.fill("#opinion", "户口簿复印件看不清，请重新复印")
    page.locator("#decide-submit").click()
    list_error = page.locator('[data-error-for="deficiencies"]')
    expect(list_error).to_have_text("退回补正时必须一次性列出需要补齐的全部材料")
    expect(page.locator("#opinion")).to_have_value("户口簿复印件看不清，请重新复印")
    expect(page.locator('input[name="decision"][value="return"]')).to_be_checked()
    shot("03-empty-list")

    # Ticks and free text, but no opinion: told next to the opinion; the ticks and lines stay.
    page.locator("#deficiency-list label", has_text="户口簿（").click()
    page.locator("#deficiency-list label", has_text="共同生活家庭成员身份证").click()
    page.fill("#deficiency-extra", "户口簿首页复印件（要清晰）\n\n")
    page.fill("#opinion", "")
    page.locator("#decide-submit").click()
    expect(page.locator('[data-error-for="opinion"]')).to_have_text("请写明审核意见（退回或不予受理的理由）")
    expect(list_error).to_have_text("")
    expect(page.locator('input[name="deficiencies"][value="户口簿"]')).to_be_checked()
    expect(page.locator('input[name="deficiencies"][value="共同生活家庭成员身份证"]')).to_be_checked()
    expect(page.locator('input[name="deficiencies"][value="申请人居民身份证"]')).not_to_be_checked()
    expect(page.locator("#deficiency-extra")).to_have_value("户口簿首页复印件（要清晰）\n\n")
    shot("04-no-opinion")

    # With the opinion: saved, back to the queue with a clear confirmation, the case gone from it.
    page.fill("#opinion", "户口簿复印件看不清，请重新复印")
    page.locator("#decide-submit").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/review?town={CHIBUSU}")
    done = page.locator("#done")
    expect(done).to_contain_text(f"办件 {no}（最低生活保障申请（城乡低保））：退回补正。")
    expect(done).to_contain_text("一次性补正清单共 3 项：户口簿、共同生活家庭成员身份证、户口簿首页复印件（要清晰）")
    expect(done).to_contain_text("将推送给居民")
    expect(page.locator(f'.queue-item[data-case-no="{newer["case_no"]}"]')).to_be_visible()
    expect(page.locator(f'.queue-item[data-case-no="{no}"]')).to_have_count(0)
    file = api("GET", f"/api/v1/cases/{no}/review", headers=reviewer).json()
    assert file["stage"] == "returned_for_correction"
    assert [(n["seq"], n["is_repeat"], n["materials"]) for n in file["deficiency_notices"]] == [
        (1, False, ["户口簿", "共同生活家庭成员身份证", "户口簿首页复印件（要清晰）"])]
    assert [o["opinion"] for o in file["opinions"]] == ["户口簿复印件看不清，请重新复印"]
    shot("05-returned")
    page.reload()
    expect(page.locator("#done")).to_be_hidden()  # told once

    # The resident brings the documents; the assistant resubmits: back in the queue.
    api("POST", f"/api/v1/cases/{no}/resubmit", json={"materials_have": ["户口簿", "共同生活家庭成员身份证"]})
    page.get_by_role("button", name="刷新").click()
    item = page.locator(f'.queue-item[data-case-no="{no}"]')
    expect(item).to_be_visible()
    item.click()
    expect(page.locator("#opinions")).to_contain_text("退回补正 龙小军")
    expect(page.locator("#opinions")).to_contain_text("第 1 次补正清单")
    expect(page.locator("#opinions")).to_contain_text("户口簿首页复印件（要清晰）")
    expect(page.locator("#history")).to_contain_text("退回补正 → 户籍地镇审核中")
    shot("06-resubmitted")

    # Approve; the network fails on the first try: told, the form as it was; the second try goes through.
    page.locator("label.choice", has_text="审核通过").click()
    expect(page.locator("#deficiency-box")).to_be_hidden()
    page.fill("#opinion", "材料齐全，同意")
    page.route("**/review", lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    page.locator("#decide-submit").click()
    expect(page.locator('[data-error-for="_form"]')).to_have_text("网络不通，请检查网络后再试")
    expect(page.locator("#opinion")).to_have_value("材料齐全，同意")
    expect(page.locator('input[name="decision"][value="approve"]')).to_be_checked()
    shot("07-network-lost")
    page.unroute("**/review")
    page.locator("#decide-submit").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/review?town={CHIBUSU}")
    expect(page.locator("#done")).to_contain_text(f"办件 {no}（最低生活保障申请（城乡低保））：审核通过。")
    expect(page.locator(f'.queue-item[data-case-no="{no}"]')).to_have_count(0)
    case = api("GET", f"/api/v1/cases/{no}", headers=reviewer).json()
    assert case["stage"] == "approved"
    shot("08-approved")

    # The case page now says why it cannot be decided again.
    page.goto(f"{PLATFORM}/staff/review/cases/{no}")
    expect(page.locator("#decide-closed")).to_have_text("办件当前为“户籍地镇审核通过”，不在审核中，不能审核")
    expect(page.locator("#decide-form")).to_be_hidden()
    expect(page.locator("#opinions")).to_contain_text("材料齐全，同意")
    shot("09-decided")
    assert page.script_errors == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_another_towns_case_by_url_is_a_chinese_404_with_nothing_of_the_case(browser, viewport):
    case = open_case(hukou_town="土门镇", hukou_village=None, applicant_name="韩秀兰")
    page = new_page(browser, VIEWPORTS[viewport])
    try:
        path = f"/staff/review/cases/{case['case_no']}"
        sign_in(page, "reviewer-chibusu", path)
        expect(page).to_have_url(f"{PLATFORM}{path}")
        expect(page.locator("main.message")).to_contain_text(f"没有找到办件“{case['case_no']}”")
        text = page.content()
        for secret in ("韩秀兰", "土门镇", "最低生活保障", FULL_ID, "513223********0011"):
            assert secret not in text
        response = page.request.get(f"{PLATFORM}{path}")
        assert response.status == 404
        screenshot(page, f"review-{VIEWPORTS[viewport]['width']}-10-other-town")
    finally:
        page.context.close()
