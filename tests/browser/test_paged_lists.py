"""A list longer than a page (issue 15): the town reviewer's queue shows its first 100 cases, the
queue's length and a "更多" button; "更多" shows the rest and goes away, and the page's refresh keeps
what was opened. Against a running platform, at 360 px. 沟口镇: a town the other browser tests leave alone."""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import DEMO_PASSWORD, PLATFORM, SERVICE, api, new_page, screenshot, staff_token

TOWN, TOWN_CODE = "沟口镇", "513223113"


def _queue_total() -> int:
    r = api("GET", f"/api/v1/towns/{TOWN_CODE}/review-queue?limit=1",
            headers={"Authorization": f"Bearer {staff_token('reviewer-goukou')}"})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_the_review_queue_shows_a_page_and_more_on_request(browser):
    for n in range(max(0, 105 - _queue_total())):
        body = {"service_code": "MX-001", "applicant_name": "袁秀英", "id_number": "513223198001010011",
                "phone": "13812345678", "hukou_town": TOWN, "hukou_village": None, "current_location": TOWN,
                "intake_point": "online", "channel": "web_chat", "conversation_id": f"paged-{uuid.uuid4().hex[:8]}",
                "materials_have": [], "repeat_confirmed": True}
        r = api("POST", "/api/v1/cases", json=body, headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 201, r.text
    total = _queue_total()
    assert total >= 105

    page = new_page(browser)
    try:
        page.goto(f"{PLATFORM}/staff/review")
        expect(page).to_have_url(re.compile(r"/staff/login\?next="))
        page.fill("#username", "reviewer-goukou")
        page.fill("#password", DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        items = page.locator("#queue a.queue-item")
        expect(items).to_have_count(100)
        expect(page.locator("#queue-count")).to_have_text(str(total))
        more = page.get_by_role("button", name="更多")
        expect(more).to_be_visible()
        screenshot(page, "paged-review-queue-first-page")
        more.click()
        expect(items).to_have_count(total)
        expect(page.get_by_role("button", name="更多")).to_have_count(0)
        page.get_by_role("button", name="刷新").click()
        expect(items).to_have_count(total)  # a refresh keeps what "更多" opened
    finally:
        page.close()
