"""Pages show China time whatever the device's zone (issue 13, "Time"): the same case opened on a
360-px phone set to UTC and on one set to Asia/Shanghai shows the same times, each the API's UTC time
+ 8 h — on the agent's workbench, the reviewer's page and the resident's web chat. Needs a running
platform (Rasa not needed); the case and the conversation are made through the API with unique data."""
from __future__ import annotations

import datetime as dt
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import (DEMO_PASSWORD, PHONE, PLATFORM, SERVICE, bearer, holder_username, new_page,
                                    screenshot)
from tests.browser.test_web_chat import conversation_id_of
from tests.synthetic import fresh_id_number

ZONES = ("UTC", "Asia/Shanghai")
CHINA = dt.timezone(dt.timedelta(hours=8))
TOWN, TOWN_CODE, REVIEWER = "赤不苏镇", "513223114", "reviewer-chibusu"
TOKEN_KEY = "erma.webchat.token"


def api(method: str, path: str, headers: dict | None = None, **kwargs) -> dict:
    r = httpx.request(method, f"{PLATFORM}{path}", headers=headers or SERVICE, timeout=30, **kwargs)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


def china(iso: str) -> dt.datetime:
    """The API's instant (it must carry an offset) moved to UTC + 8 h."""
    moment = dt.datetime.fromisoformat(iso)
    assert moment.utcoffset() is not None, f"the API sent a naive time: {iso}"
    return moment.astimezone(CHINA)


def china_full(iso: str) -> str:
    d = china(iso)
    return f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}"


def china_clock(iso: str) -> str:
    """The chat's short form: the time alone today (China date), else with month and day."""
    d = china(iso)
    today = dt.datetime.now(CHINA).date()
    return f"{d:%H:%M}" if d.date() == today else f"{d.month}月{d.day}日 {d:%H:%M}"


@pytest.fixture(params=ZONES)
def zone_page(request, browser: Browser) -> Page:
    page = new_page(browser, PHONE, timezone_id=request.param)
    page.zone = request.param
    page.script_errors = []
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    yield page
    page.context.close()
    assert page.script_errors == []


def device_offset_minutes(page: Page) -> int:
    return page.evaluate("() => new Date().getTimezoneOffset()")


def sign_in(page: Page, username: str, start: str) -> None:
    page.goto(f"{PLATFORM}{start}")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}{start}")


def times_shown(page: Page, scope: str) -> dict[str, list[str]]:
    """Every <time datetime=…> under `scope`: the API instant it shows → the texts shown for it."""
    shown: dict[str, list[str]] = {}
    for node in page.locator(f"{scope} time[datetime]").all():
        shown.setdefault(node.get_attribute("datetime"), []).append(node.inner_text().strip())
    return shown


def expected_history(events: list[dict]) -> dict[str, list[str]]:
    expected: dict[str, list[str]] = {}
    for event in events:
        expected.setdefault(event["at"], []).append(china_full(event["at"]))
    return expected


def a_case(conversation_id: str | None = None) -> str:
    body = {"service_code": "MX-001", "applicant_name": "杨时妹", "id_number": fresh_id_number(),
            "phone": "13812345678", "hukou_town": TOWN, "hukou_village": None, "current_location": "成都",
            "intake_point": "online", "channel": "web_chat", "conversation_id": conversation_id,
            "materials_have": ["户口簿"], "repeat_confirmed": True}
    return api("POST", "/api/v1/cases", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex})["case_no"]


def test_staff_pages_show_china_time_on_a_phone_in_any_zone(zone_page: Page):
    page = zone_page
    assert device_offset_minutes(page) == (0 if page.zone == "UTC" else -480)
    no = a_case()
    agent = holder_username(api("GET", f"/api/v1/cases/{no}", bearer("admin")))
    case = api("GET", f"/api/v1/cases/{no}", bearer(agent))
    events = api("GET", f"/api/v1/cases/{no}/events", bearer(agent))["items"]
    created = china_full(case["created_at"])

    sign_in(page, agent, f"/staff/cases/{no}")
    expect(page.locator("#intake")).to_contain_text(created)
    expect(page.locator("#history time[datetime]")).to_have_count(len(events))
    assert times_shown(page, "#history") == expected_history(events)
    screenshot(page, f"china-time-workbench-{page.zone.replace('/', '-')}")

    page.context.clear_cookies()
    sign_in(page, REVIEWER, f"/staff/review/cases/{no}")
    submitted = page.locator("dt", has_text="提交时间").locator("xpath=following-sibling::dd[1]")
    expect(submitted).to_have_text(created)
    expect(page.locator("#history time[datetime]")).to_have_count(len(events))
    assert times_shown(page, "#history") == expected_history(events)


def test_the_web_chat_shows_china_time_on_a_phone_in_any_zone(zone_page: Page):
    page = zone_page
    page.goto(f"{PLATFORM}/chat")
    page.wait_for_function(f"() => localStorage.getItem('{TOKEN_KEY}')")  # a function: the page's CSP forbids eval
    token = page.evaluate(f"localStorage.getItem('{TOKEN_KEY}')")
    # The resident's case, bound to this chat; the town returns it and the notice is pushed to the page.
    no = a_case(conversation_id_of(token))
    api("POST", f"/api/v1/cases/{no}/review", bearer(REVIEWER),
        json={"decision": "return", "opinion": "请补齐", "deficiencies": ["申请人居民身份证"]})
    push = page.locator("#log .card.push", has_text="补正")
    expect(push).to_be_visible(timeout=45_000)  # delivered by the outbox worker

    entries = api("GET", "/chat/api/transcript", {"Authorization": f"Bearer {token}"})["entries"]
    pushed = [e for e in entries if e.get("kind") == "push"]
    assert pushed, entries
    expect(page.locator("#log .card.push .time")).to_have_text([china_clock(e["at"]) for e in pushed])
    page.reload()  # the transcript read again from the start shows the same times
    expect(page.locator("#log .card.push .time")).to_have_text([china_clock(e["at"]) for e in pushed])
    screenshot(page, f"china-time-web-chat-{page.zone.replace('/', '-')}")
