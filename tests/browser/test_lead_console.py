"""The duty lead's page in headless Chromium, at 360 px and at desktop width: a duty lead signs in
and lands on /staff/lead, sees an overdue 容缺, a 差评 follow-up due and an overdue case that this
test created, and records the follow-up — an empty outcome first (the platform's Chinese message
next to the field), a network failure (the text kept), then the real outcome.

Data is made through the JSON API. Two dates can only lie in the past in the database itself (a
deferral's deadline, a case's promised date): the test writes them to the database of
ERMA_DATABASE_URL, or else DATABASE_URL (scripts/test.sh exports the e2e platform's), the very
database the platform under test uses."""
from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.browser.conftest import DEMO_PASSWORD, PLATFORM, SERVICE, holder_username, required_materials, screenshot, staff_token

DATABASE_URL = os.environ.get("ERMA_DATABASE_URL") or os.environ.get("DATABASE_URL")
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴

pytestmark = pytest.mark.skipif(not DATABASE_URL, reason="needs ERMA_DATABASE_URL (or DATABASE_URL): the platform's database")


def api(method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else dict(SERVICE)
    headers.update(kwargs.pop("headers", {}))
    r = httpx.request(method, f"{PLATFORM}{path}", headers=headers, timeout=30, **kwargs)
    assert r.status_code < 400, r.text
    return r


def open_case(service_code: str = "MX-001", conversation_id: str | None = None, *, but: tuple[str, ...] = ()) -> dict:
    body = {"service_code": service_code, "applicant_name": "杨子妹", "id_number": "513223198001010011",
            "phone": "13812345678", "hukou_town": "赤不苏镇", "hukou_village": "雅都村", "current_location": "成都",
            "intake_point": "online", "channel": "web_chat", "conversation_id": conversation_id or f"lead-test-{uuid.uuid4().hex}",
            "materials_have": required_materials(service_code, but=but), "repeat_confirmed": True}
    return api("POST", "/api/v1/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}).json()


def county_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def in_the_database(sql: str, **params) -> None:
    engine = create_engine(DATABASE_URL)
    try:
        with engine.begin() as conn:
            assert conn.execute(text(sql), params).rowcount == 1
    finally:
        engine.dispose()


def overdue_deferral(reviewer: str) -> str:
    """A 容缺 case whose supplement deadline was three days ago, materials not supplied."""
    case = open_case("MX-013", but=(DEFERRABLE,))
    no, agent = case["case_no"], staff_token(holder_username(case))
    api("POST", f"/api/v1/cases/{no}/review", reviewer, json={"decision": "approve_deferral"})
    api("POST", f"/api/v1/cases/{no}/deferral", agent, json={"missing": [DEFERRABLE]})
    in_the_database("UPDATE deferrals SET deadline = :day WHERE case_id = (SELECT id FROM cases WHERE case_no = :no)",
                    day=county_today() - dt.timedelta(days=3), no=no)
    return no


def bad_rating(reviewer: str, comment: str) -> str:
    """A completed case the resident rated 不满意 (in the conversation that opened it): a follow-up
    task for the duty lead."""
    conversation_id = f"lead-test-{uuid.uuid4().hex}"
    case = open_case(conversation_id=conversation_id)
    no, agent = case["case_no"], staff_token(holder_username(case))
    api("POST", f"/api/v1/cases/{no}/review", reviewer, json={"decision": "approve"})
    api("POST", f"/api/v1/cases/{no}/transitions", agent, json={"to": "at_department"})
    api("POST", f"/api/v1/cases/{no}/transitions", agent, json={"to": "completed", "note": "准予发放"})
    rating = {"level": "不满意", "comment": comment, "conversation_id": conversation_id}
    assert api("POST", f"/api/v1/cases/{no}/rating", json=rating).json()["follow_up"]
    return no


def overdue_case() -> str:
    """A case still in town review five days after its promised date."""
    no = open_case()["case_no"]
    in_the_database("UPDATE cases SET expected_completion_date = :day WHERE case_no = :no",
                    day=county_today() - dt.timedelta(days=5), no=no)
    return no


@pytest.fixture
def lead_page(console_page):
    return console_page


def test_a_duty_lead_sees_the_three_lists_and_records_a_follow_up(lead_page: Page):
    page, size = lead_page, lead_page.viewport_name
    shot = lambda step: screenshot(page, f"lead-{size}-{step}")  # noqa: E731
    reviewer = staff_token("reviewer-chibusu")
    marker = uuid.uuid4().hex[:6]
    deferral_no = overdue_deferral(reviewer)
    followup_no = bad_rating(reviewer, f"等了很久（{marker}）")
    late_no = overdue_case()

    def show(tab: str) -> None:
        if size == "phone":  # one list at a time on a phone; all three side by side on a desk
            page.get_by_role("tab", name=re.compile(tab)).click()

    # Signs in on the sign-in page and lands on the duty lead's page.
    page.goto(f"{PLATFORM}/staff/login")
    page.fill("#username", "lead-1")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/lead")
    expect(page.locator(".topbar")).to_contain_text("李红梅")
    expect(page.locator("#lead-today")).to_contain_text(f"{county_today().month}月{county_today().day}日")

    # 容缺 past its deadline: how late, the item, the town, the applicant masked, the agent.
    deferral = page.locator(f'#list-deferrals .lead-card[data-case="{deferral_no}"]')
    expect(deferral).to_be_visible()
    expect(deferral.locator(".days")).to_have_text("逾期 3 天")
    expect(deferral).to_contain_text("高龄津贴")
    expect(deferral).to_contain_text("赤不苏镇")
    expect(deferral).to_contain_text("杨*妹")
    expect(deferral).to_contain_text("138****5678")
    expect(deferral).to_contain_text(DEFERRABLE)
    expect(deferral).not_to_contain_text("13812345678")
    deferral.scroll_into_view_if_needed()
    shot("01-overdue-deferral")

    # The case past its promised date.
    show("超期办件")
    late = page.locator(f'#list-cases .lead-card[data-case="{late_no}"]')
    expect(late).to_be_visible()
    expect(late.locator(".days")).to_have_text("超期 5 天")
    expect(late).to_contain_text("户籍地镇审核中")
    late.scroll_into_view_if_needed()
    shot("02-overdue-case")

    # The 差评 follow-up due, with the resident's words.
    show("差评回访")
    followup = page.locator(f'#list-followups .lead-card[data-case="{followup_no}"]')
    expect(followup).to_be_visible()
    expect(followup).to_contain_text(f"不满意：等了很久（{marker}）")
    expect(followup.locator(".days")).to_have_text(re.compile(r"还剩 \d+ 天"))
    followup.scroll_into_view_if_needed()
    shot("03-followup-due")

    # Record it: nothing written first — the platform's message next to the field.
    followup.get_by_role("button", name="记录回访结果").click()
    outcome = followup.locator('textarea[name="outcome"]')
    expect(outcome).to_be_focused()
    followup.get_by_role("button", name="保存").click()
    expect(followup.locator('[data-error-for="outcome"]')).to_have_text("请填写回访结果")
    shot("04-empty-outcome")

    # The network drops: the message says so and nothing typed is lost.
    words = f"已电话回访杨女士，说明审核退回原因并致歉，已提醒代办员（{marker}）"
    outcome.fill(words)
    page.route("**/complete", lambda route: route.abort())
    followup.get_by_role("button", name="保存").click()
    expect(followup.locator('[data-error-for="_form"]')).to_have_text("网络不通，请检查网络后再试")
    expect(followup.locator('[data-error-for="outcome"]')).to_have_text("")
    expect(outcome).to_have_value(words)
    shot("05-network-failed-text-kept")
    page.unroute("**/complete")

    followup.get_by_role("button", name="保存").click()
    expect(page.locator("#lead-notice")).to_have_text(f"已记录 {followup_no} 的回访结果")
    expect(page.locator(f'#list-followups .lead-card[data-case="{followup_no}"]')).to_have_count(0)
    shot("06-followup-recorded")

    lead = staff_token("lead-1")
    assert api("GET", f"/api/v1/cases/{followup_no}", lead).json()["stage"] == "followed_up"
    notes = [e["note"] for e in api("GET", f"/api/v1/cases/{followup_no}/events", lead).json()["items"]]
    assert f"回访：{words}" in notes
