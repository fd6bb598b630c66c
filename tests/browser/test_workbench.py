"""The agent workbench in headless Chromium, against a running platform (Rasa not needed): an agent
signs in (landing on the inbox), goes to the workbench in one tap, sees the town's unassigned case,
takes it, records a visit, opens the 容缺 deferral, downloads the 一表一书 PDF, records the supplement
and the reclaim (the deferral is closed), records submission to the department and completion with
a result (an empty result is refused in Chinese, nothing typed is lost). At 360 px and at desktop
width, a screenshot at each step."""
from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (DEMO_PASSWORD, DESKTOP, PHONE, PLATFORM, SERVICE, SHOTS, api, bearer, new_page,
                                    required_materials, screenshot)

VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
# 沙坝镇: a town the other browser tests leave alone, so its unassigned list stays short.
TOWN = "沙坝镇"
AGENT, AGENT_NAME = "agent-shaba-1", "蒋丽萍"
REVIEWER = "reviewer-shaba"
ITEM = "MX-013"  # 高龄津贴: on the 容缺 list
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"
ID_NUMBER, PHONE_NO = "513223193001010019", "13912345678"


def unassigned_case(applicant: str) -> str:
    """A resident's 高龄津贴 case of 沙坝镇, put back among the town's unassigned cases by the duty lead."""
    body = {"service_code": ITEM, "applicant_name": applicant, "id_number": ID_NUMBER, "phone": PHONE_NO,
            "hukou_town": TOWN, "hukou_village": None, "current_location": "沙坝镇",
            "intake_point": "online", "channel": "web_chat", "conversation_id": None,
            # Everything but the deferrable social-security card: the town may only agree to 容缺 for it.
            "materials_have": required_materials(ITEM, but=(DEFERRABLE,)), "repeat_confirmed": True}
    no = api("POST", "/api/v1/cases", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex}).json()["case_no"]
    released = api("POST", f"/api/v1/cases/{no}/assignment", json={"agent_id": None}, headers=bearer("lead-1")).json()
    assert released["agent"] is None
    return no


@pytest.fixture
def agent_page(console_page):
    return console_page


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_an_agent_carries_a_deferral_case_end_to_end(agent_page: Page):
    page, size = agent_page, agent_page.viewport_name
    applicant = "杨" + "春秋冬夏梅兰竹菊"[uuid.uuid4().int % 8] + "妹"  # each run's case is found by its number anyway
    no = unassigned_case(applicant)
    shot = lambda step: screenshot(page, f"workbench-{size}-{step}")  # noqa: E731

    # Sign in: agents land on the inbox; the workbench is one tap away from its header.
    page.goto(f"{PLATFORM}/staff/login")
    page.fill("#username", AGENT)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/inbox")
    shot("01-inbox")
    page.get_by_role("link", name=re.compile("办件工作台")).click()
    expect(page).to_have_url(f"{PLATFORM}/staff/cases")
    expect(page.get_by_role("link", name="转人工会话 ›")).to_be_visible()

    # The town's unassigned case, under 本镇待认领; take it there.
    page.get_by_role("tab", name=re.compile("本镇待认领")).click()
    card = page.locator(f'#waiting-list .wb-card[data-case-no="{no}"]')
    expect(card).to_contain_text("高龄津贴")
    expect(card).to_contain_text(applicant)
    no_sideways_scroll(page)
    shot("02-unassigned")
    card.get_by_role("button", name="认领").click()
    expect(page.locator("#wb-status")).to_contain_text(f"已认领办件 {no}")
    expect(card).to_have_count(0)
    page.get_by_role("tab", name=re.compile("我的办件")).click()
    mine = page.locator(f'#mine-list .wb-card[data-case-no="{no}"]')
    expect(mine).to_contain_text("户籍地镇审核中")
    shot("03-taken")

    # The case page: applicant masked, item, stage, promised date, history.
    mine.locator("a").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/cases/{no}")
    expect(page.locator("#holder")).to_have_text("我的办件")
    expect(page.locator("#id-number")).to_have_text(ID_NUMBER[:6] + "*" * 8 + ID_NUMBER[-4:])
    expect(page.locator("#phone")).to_have_text("139****5678")
    expect(page.locator("#agent")).to_contain_text(AGENT_NAME)
    expect(page.locator("#promised")).to_have_text(re.compile(r"\d{4}-\d{2}-\d{2}"))
    expect(page.locator("#history")).to_contain_text(f"代办员 {AGENT_NAME}")
    assert ID_NUMBER not in page.content() and PHONE_NO not in page.content()
    no_sideways_scroll(page)
    shot("04-case")

    # A visit: the resident came once.
    page.fill("#visit-note", "本人到代办点签字")
    page.get_by_role("button", name="登记群众跑动一次").click()
    expect(page.locator("#page-status")).to_have_text("已登记群众跑动，累计 1 次")
    expect(page.locator("#visits")).to_have_text("1 次")
    expect(page.locator("#visit-note")).to_have_value("")
    shot("05-visit")

    # The town agrees to 容缺 for the missing card; the agent opens the deferral from the page, with
    # what the reviewer agreed already ticked.
    api("POST", f"/api/v1/cases/{no}/review", json={"decision": "approve_deferral"}, headers=bearer(REVIEWER))
    page.reload()
    expect(page.locator("#deferral-open-form")).to_be_visible()
    page.fill("#deferral-open-note", "社保卡在外地子女处")
    expect(page.get_by_label(DEFERRABLE)).to_be_checked()
    page.get_by_role("button", name="容缺受理，开具一表一书").click()
    expect(page.locator("#stage")).to_have_text("容缺受理，先行办理中")
    expect(page.locator("#form-no")).to_have_text(re.compile(r"^RQ-\d{4}-\d{4}$"))
    expect(page.locator("#deferral-missing")).to_have_text(DEFERRABLE)
    form_no = page.locator("#form-no").inner_text()
    shot("06-deferral-opened")

    # The 一表一书 PDF: a real download, a PDF, with the case number in it.
    with page.expect_download() as download:
        page.get_by_role("link", name="下载一表一书 PDF").click()
    pdf_path = SHOTS / f"workbench-{size}-yibiaoyishu.pdf"
    SHOTS.mkdir(parents=True, exist_ok=True)
    download.value.save_as(pdf_path)
    assert download.value.suggested_filename.endswith(f"{no}.pdf")
    assert pdf_path.read_bytes().startswith(b"%PDF")
    words = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True,
                           check=True).stdout
    assert no in words and form_no in words and "容缺快办审核表" in words
    assert ID_NUMBER not in words
    # Rendered to PNG (kept with the screenshots) and read back: the case number is really drawn.
    png = SHOTS / f"workbench-{size}-07-pdf-page1"
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile", str(pdf_path), str(png)],
                   check=True)
    ocr = subprocess.run(["tesseract", f"{png}.png", "-"], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"}).stdout
    assert no in "".join(ocr.split()), ocr  # OCR may put spaces inside the number

    # Supplement received, then the form and pledge reclaimed: the deferral is closed.
    page.get_by_role("button", name="登记后补材料已收到").click()
    expect(page.locator("#page-status")).to_contain_text("已登记后补材料收到")
    expect(page.locator("#deferral-supplied")).to_contain_text("已收到")
    shot("08-supplied")
    page.get_by_role("button", name="登记已收回审核表和背书单").click()
    expect(page.locator("#deferral-status")).to_have_text("容缺已办结（一表一书已收回）")
    expect(page.locator("#record-reclaim")).to_be_hidden()
    assert api("GET", f"/api/v1/cases/{no}/deferral", headers=bearer(AGENT)).json()["status"] == "closed"
    shot("09-reclaimed")

    # Submission to the department.
    page.get_by_label("代办员已送部门办理").check()
    page.fill("#progress-note", "已送县民政局")
    page.get_by_role("button", name="确认").click()
    expect(page.locator("#stage")).to_have_text("代办员已送部门办理")
    expect(page.locator("#history")).to_contain_text("已送县民政局")
    shot("10-at-department")

    # Completion: an empty result is refused next to the field; what was typed elsewhere stays.
    page.fill("#visit-note", "下次带户口簿")
    page.get_by_role("button", name="确认").click()  # nothing chosen yet
    expect(page.locator('#progress-form [data-error-for="to"]')).to_have_text("请先选择要把办件改为哪一步")
    page.get_by_label("已办结").check()
    expect(page.locator("#progress-note-label")).to_have_text("办理结果（必填）")
    page.get_by_role("button", name="确认").click()
    expect(page.locator('#progress-form [data-error-for="note"]')).to_have_text("办结时请写明办理结果")
    expect(page.get_by_label("已办结")).to_be_checked()
    expect(page.locator("#visit-note")).to_have_value("下次带户口簿")
    expect(page.locator("#stage")).to_have_text("代办员已送部门办理")
    shot("11-result-required")

    # A network failure keeps the result typed; sent again, the case is completed with it.
    result = "已批准，自次月起按月发放高龄津贴"
    page.fill("#progress-note", result)
    page.route("**/transitions", lambda route: route.abort())
    page.get_by_role("button", name="确认").click()
    expect(page.locator('#progress-form [data-error-for="_form"]')).to_contain_text("网络不通")
    expect(page.locator("#progress-note")).to_have_value(result)
    page.unroute("**/transitions")
    page.get_by_role("button", name="确认").click()
    expect(page.locator("#stage")).to_have_text("已办结")
    expect(page.locator("#result")).to_have_text(result)
    assert api("GET", f"/api/v1/cases/{no}", headers=bearer(AGENT)).json()["result"] == result
    no_sideways_scroll(page)
    shot("12-completed")
    assert page.script_errors == []


def test_another_towns_agent_gets_not_found(browser):
    no = unassigned_case("王某某")
    page = new_page(browser, PHONE)
    try:
        page.goto(f"{PLATFORM}/staff/cases/{no}")
        page.fill("#username", "agent-tumen-1")
        page.fill("#password", DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(f"{PLATFORM}/staff/cases/{no}")
        expect(page.locator("#page-error")).to_have_text(f"没有找到办件“{no}”")
        expect(page.locator("#case-body")).to_be_hidden()
        screenshot(page, "workbench-phone-other-town")
    finally:
        page.context.close()
