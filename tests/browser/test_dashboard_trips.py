"""最多跑一次 on the dashboard page, at 360 px, from recorded trips: residents' cases of 洼底镇 opened
through the API, trips recorded through the API by the agent holding each case (one trip, two trips,
none), and the page's 最多跑一次 tile, its item bar and the trips' places equal what the platform's
dashboard API says for the same day and town — which moved by exactly the trips recorded.

The shared platform of CI holds other tests' cases, so nothing here assumes a fresh database: the
figures are compared with the API's own for the filter, and the recorded trips with the change they
made to those figures."""
from __future__ import annotations

import datetime as dt
import re
import uuid
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import (DEMO_PASSWORD, PLATFORM, SERVICE, bearer, holder_username, screenshot)
from tests.synthetic import fresh_id_number

TOWN, TOWN_CODE = "洼底镇", "513223109"  # a town the other browser tests leave alone
ITEM = "MX-005"
VILLAGE, CENTRE = "village:513223109:百和村", "town:513223109"
KINDS = ["village_point", "town_centre", "county_window", None]


def call(method: str, path: str, headers: dict, **kwargs) -> dict:
    r = httpx.request(method, f"{PLATFORM}{path}", headers=headers, timeout=30, **kwargs)
    assert r.status_code < 400, r.text
    return r.json()


def open_case() -> dict:
    body = {"service_code": ITEM, "applicant_name": "马" + "春秋冬夏梅兰竹菊"[uuid.uuid4().int % 8] + "英",
            "id_number": fresh_id_number(), "phone": "13912345678", "hukou_town": TOWN, "hukou_village": None,
            "current_location": TOWN, "intake_point": "online", "channel": "web_chat", "conversation_id": None,
            "materials_have": [], "repeat_confirmed": True}
    return call("POST", "/api/v1/cases", {**SERVICE, "Idempotency-Key": uuid.uuid4().hex}, json=body)


def trip(case: dict, purpose: str, point: str) -> int:
    done = call("POST", f"/api/v1/cases/{case['case_no']}/visits", bearer(holder_username(case)),
                json={"purpose": purpose, "intake_point": point, "note": "本人到场"})
    return done["visits"]


def board(day: str) -> dict:
    return call("GET", "/api/v1/dashboard", bearer("lead-1"), params={"from": day, "to": day, "town": TOWN_CODE})


def pct(part: int, whole: int) -> str:
    tenths = (2000 * part + whole) // (2 * whole)  # halves up, as the platform writes them
    return f"{tenths // 10}.{tenths % 10}%"


def text_of(page: Page, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def tile_text(v: dict) -> str:
    """The 最多跑一次 tile as the figures say it should read: 未记录 when no case has a trip."""
    counts = f"{v['recorded']} 件有跑动记录，{v['unrecorded']} 件未记录"
    if not v["recorded"]:
        return f"最多跑一次 未记录 {counts}"
    return (f"最多跑一次 {pct(v['at_most_one'], v['recorded'])} {counts} "
            f"{v['at_most_one']}/{v['recorded']} 件 · 平均跑动 {v['mean']:.2f} 次")


def show(page: Page, day: str) -> None:
    page.goto(f"{PLATFORM}/staff/dashboard?from={day}&to={day}&town={TOWN_CODE}")
    expect(page.locator("#dash")).to_have_attribute("data-generated-at", re.compile(r"\d{4}-"))
    expect(page.locator("#dash-loading")).to_be_hidden()


def item_visits(body: dict) -> dict:
    return next(i["visits"] for i in body["by_item"] if i["service_code"] == ITEM)


def test_the_dashboard_trip_figures_are_the_recorded_trips(phone_page: Page):
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    once, twice, never = open_case(), open_case(), open_case()

    page.goto(f"{PLATFORM}/staff/login")
    page.fill("#username", "lead-1")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/lead")

    # Before any trip of these cases: the page says what the platform says (未记录 on a fresh platform).
    show(page, today)
    before = board(today)
    assert text_of(page, '[data-kpi="one_visit"]') == tile_text(before["totals"]["visits"])
    screenshot(page, "dashboard-trips-phone-01-before")

    # One trip for one resident, two for another, none for the third.
    assert trip(once, "hand_in", VILLAGE) == 1
    trip(twice, "hand_in", VILLAGE)
    assert trip(twice, "collect_result", CENTRE) == 2
    after = board(today)
    moved = {key: after["totals"]["visits"][key] - before["totals"]["visits"][key]
             for key in ("total", "recorded", "unrecorded", "at_most_one")}
    # The three cases were opened before `before`: two of them now count as recorded, one stays 未记录.
    assert moved == {"total": 3, "recorded": 2, "unrecorded": -2, "at_most_one": 1}
    places_before = {p["kind"]: p["visits"] for p in before["visit_places"]["by_kind"]}
    places_after = {p["kind"]: p["visits"] for p in after["visit_places"]["by_kind"]}
    assert {k: places_after[k] - places_before[k] for k in KINDS} == \
        {"village_point": 2, "town_centre": 1, "county_window": 0, None: 0}

    show(page, today)
    now = board(today)  # the same figures unless another test wrote to 洼底镇 in between
    v = now["totals"]["visits"]
    assert v["recorded"] >= 2 and v["unrecorded"] >= 1
    assert text_of(page, '[data-kpi="one_visit"]') == tile_text(v)
    expect(page.locator("#dash-scope")).to_contain_text(TOWN)
    screenshot(page, "dashboard-trips-phone-02-tile")

    # The item's bar in the comparison (a phone shows the chart picked in the list).
    page.select_option("#item-metric", "one_visit")
    row = f'#item-charts [data-chart="one_visit"] [data-code="{ITEM}"]'
    expect(page.locator(row)).to_be_visible()
    iv = item_visits(now)
    detail = f"{iv['at_most_one']}/{iv['recorded']} 件最多跑一次 · 平均跑动 {iv['mean']:.2f} 次"
    if iv["unrecorded"]:
        detail += f" · 未记录 {iv['unrecorded']} 件"
    assert text_of(page, row + " .bar-value") == pct(iv["at_most_one"], iv["recorded"])
    assert text_of(page, row + " .bar-detail") == detail
    page.locator(row).scroll_into_view_if_needed()
    screenshot(page, "dashboard-trips-phone-03-item")

    # Where the trips were made, by kind of place.
    for p in now["visit_places"]["by_kind"]:
        code = p["kind"] or "unknown"
        assert text_of(page, f'[data-chart="visit_places"] [data-code="{code}"] .bar-value') == f"{p['visits']} 次"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert errors == []
