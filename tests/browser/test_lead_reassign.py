"""The duty lead reassigns (改派) an overdue case in headless Chromium, at 360 px and at desktop
width: from /staff/lead's 超期办件 the lead opens the case, chooses nothing first (the platform's
Chinese message next to the choice, the note kept), then another agent of the town from the list
(name, 证号, open cases; the current holder not offered), and the page shows the new agent. That
agent then finds the case among their own on the workbench, where no 改派 is offered to them.

The case is made through the JSON API; its promised date is put in the past in the platform's
database (ERMA_DATABASE_URL, or else DATABASE_URL), as tests/browser/test_lead_console.py does."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, PLATFORM, VIEWPORTS, new_page, screenshot, staff_token
from tests.browser.test_lead_console import DATABASE_URL, api, county_today, in_the_database

# 黑虎镇: a town the other browser tests leave alone, so its agents' lists stay short.
TOWN = "黑虎镇"
AGENTS = {"茂代字2026-015": ("agent-heihu-1", "王泽郎"), "茂代字2026-016": ("agent-heihu-2", "毛国庆")}

pytestmark = pytest.mark.skipif(not DATABASE_URL, reason="needs ERMA_DATABASE_URL (or DATABASE_URL): the platform's database")


def overdue_case() -> dict:
    """A 黑虎镇 case, assigned at intake, still in town review three days after its promised date."""
    body = {"service_code": "MX-001", "applicant_name": "王秀英", "id_number": "513223198001010011",
            "phone": "13812345678", "hukou_town": TOWN, "hukou_village": None, "current_location": "黑虎镇",
            "intake_point": "online", "channel": "web_chat", "conversation_id": None, "materials_have": [],
            "repeat_confirmed": True}
    case = api("POST", "/api/v1/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}).json()
    in_the_database("UPDATE cases SET expected_completion_date = :day WHERE case_no = :no",
                    day=county_today() - dt.timedelta(days=3), no=case["case_no"])
    return case


def sign_in(page: Page, username: str) -> None:
    page.goto(f"{PLATFORM}/staff/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


@pytest.fixture
def lead_page(console_page):
    return console_page


def test_the_duty_lead_reassigns_an_overdue_case_and_the_new_agent_has_it(lead_page: Page, browser):
    page, size = lead_page, lead_page.viewport_name
    shot = lambda step: screenshot(page, f"reassign-{size}-{step}")  # noqa: E731
    case = overdue_case()
    no = case["case_no"]
    was = case["agent"]["credential_no"]
    [(to_credential, (to_username, to_name))] = [(k, v) for k, v in AGENTS.items() if k != was]
    was_name = AGENTS[was][1]

    # From the duty lead's overdue cases to the case itself.
    sign_in(page, "lead-1")
    expect(page).to_have_url(f"{PLATFORM}/staff/lead")
    if size == "phone":
        page.get_by_role("tab", name=re.compile("超期办件")).click()
    late = page.locator(f'#list-cases .lead-card[data-case="{no}"]')
    expect(late.locator(".days")).to_have_text("超期 3 天")
    expect(late).to_contain_text(was_name)
    late.scroll_into_view_if_needed()
    shot("00-overdue-case")
    late.get_by_role("link", name=f"打开办件 {no}").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/cases/{no}")
    expect(page.locator("#agent")).to_have_text(f"{was_name}（{was}）")

    # The 改派 block: the town's agents with 证号 and open cases, the holder not offered, and release.
    box = page.locator("#reassign-box")
    expect(box).to_be_visible()
    expect(box).to_contain_text(f"改派给户籍地{TOWN}的另一位代办员")
    choice = page.locator("#reassign-agent")
    holder_option = choice.locator("option", has_text=was_name)
    expect(holder_option).to_have_text(re.compile(rf"^{was_name}（{was}）在办 [1-9]\d* 件（现承办）$"))
    expect(holder_option).to_be_disabled()
    target_option = choice.locator("option", has_text=to_name)
    expect(target_option).to_have_text(re.compile(rf"^{to_name}（{to_credential}）在办 \d+ 件$"))
    expect(target_option).to_be_enabled()
    expect(choice.locator("option", has_text="释放（退回待认领）")).to_be_enabled()
    box.scroll_into_view_if_needed()
    no_sideways_scroll(page)
    shot("01-reassign-block")

    # Nothing chosen: the platform's message next to the choice; the note stays as typed.
    note = f"{was_name}下乡核查，转{to_name}办理（{uuid.uuid4().hex[:6]}）"
    page.fill("#reassign-note", note)
    page.get_by_role("button", name="确认改派").click()
    expect(box.locator('[data-error-for="agent_id"]')).to_have_text("请选择改派给哪位代办员，或退回本镇待认领")
    expect(choice).to_be_focused()
    expect(page.locator("#reassign-note")).to_have_value(note)
    shot("02-nothing-chosen")

    choice.select_option(target_option.get_attribute("value"))
    page.get_by_role("button", name="确认改派").click()
    expect(page.locator("#page-status")).to_have_text(f"已改派给 {to_name}（{to_credential}）")
    expect(page.locator("#agent")).to_have_text(f"{to_name}（{to_credential}）")
    expect(box.locator('[data-error-for="agent_id"]')).to_have_text("")
    expect(page.locator("#reassign-note")).to_have_value("")
    expect(choice.locator("option", has_text=to_name)).to_have_text(re.compile(r"（现承办）$"))
    expect(page.locator("#history .kind-assigned").first).to_contain_text(f"改派代办员 {to_name}（{to_credential}）：{note}")
    no_sideways_scroll(page)
    shot("03-reassigned")

    lead = staff_token("lead-1")
    assert api("GET", f"/api/v1/cases/{no}", lead).json()["agent"]["credential_no"] == to_credential
    # Back to the 督办 lists the lead came from.
    page.get_by_role("link", name="‹ 督办").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/lead")

    # The new agent finds it among their own cases, and is offered no 改派.
    agent = new_page(browser, VIEWPORTS[size])
    try:
        sign_in(agent, to_username)
        expect(agent).to_have_url(f"{PLATFORM}/staff/inbox")
        agent.goto(f"{PLATFORM}/staff/cases")
        mine = agent.locator(f'#mine-list .wb-card[data-case-no="{no}"]')
        expect(mine).to_be_visible()
        mine.scroll_into_view_if_needed()
        screenshot(agent, f"reassign-{size}-04-new-agent-workbench")
        mine.locator("a").click()
        expect(agent.locator("#holder")).to_have_text("我的办件")
        expect(agent.locator("#reassign-box")).to_be_hidden()
    finally:
        agent.context.close()
