"""The county dashboard page in headless Chromium, at 360 px and at desktop width: the page shows the
figures of a seeded data set that this test computes independently.

The shared platform of `make test` holds whatever the other tests wrote, so this test starts a
PRIVATE platform: a fresh SQLite file, `python -m erma setup`, a small deterministic data set from
scripts/seed_bench.py (fixed seed), then `python -m erma serve` on a free port; the server is
stopped at the end whatever happens. The expected figures are recomputed here with plain Python
over the stored rows (sqlite3), from the definitions the dashboard publishes — never by calling
erma.dashboard. A duty lead signs in through the sign-in page and goes from the duty lead's page to
the dashboard by the navigation bar; the test reads the county totals, a town's and an item's bars,
every row of the towns' and items' tables, filters by date range and town (a bad range first: the
platform's message next to the field, the dates kept), sees an empty range explained in Chinese,
and exports the CSV: the same figures, and nothing in it but town and item names and numbers."""
from __future__ import annotations

import csv
import datetime as dt
from fractions import Fraction
import io
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, SERVICE, holder_username, required_materials, screenshot

ROOT = Path(__file__).resolve().parents[2]
CHINA = ZoneInfo("Asia/Shanghai")
SEED, CASES, DAYS = 11, 150, 120  # seed_bench: cases opened over the last DAYS days
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴

# The lifecycle's stages (erma.cases.stages), written out: the still-open ones and the order shown.
STAGES = ["received", "town_review", "returned_for_correction", "rejected", "approved", "deferral_accepted",
          "at_department", "completed", "delivered", "rated", "followed_up", "withdrawn", "terminated"]
OPEN = {"received", "town_review", "returned_for_correction", "approved", "deferral_accepted", "at_department"}
# 退回补正 pauses the promised-date clock (domain-notes §2.6): such a case waits for the resident, never overdue.
CLOCK_RUNNING = OPEN - {"returned_for_correction"}
# Ended without a result: the case owes no deferred materials any more (erma/cases/stages.py).
ENDED_WITHOUT_RESULT = {"rejected", "withdrawn", "terminated"}
AGE_BUCKETS = [("0-3", 0, 3), ("3-7", 3, 7), ("7-15", 7, 15), ("15-30", 15, 30), ("30+", 30, None)]
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


# ---------------------------------------------------------------- the private platform

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "dashboard.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    env.pop("ERMA_DATABASE_URL", None)
    run = dict(cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, "-m", "erma", "setup"], **run)
    subprocess.run([sys.executable, "scripts/seed_bench.py", "--no-setup", "-n", str(CASES), "--days", str(DAYS),
                    "--seed", str(SEED)], **run)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(folder / "serve.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "erma", "serve", "--port", str(port)], cwd=ROOT, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                assert server.poll() is None, (folder / "serve.log").read_text(errors="replace")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the private platform did not start"
                time.sleep(0.3)
            late = add_todays_cases(url)
            # However the seeded history falls on today's calendar, one case in review is past its
            # promised date (a date the platform only ever moves on; set here, not through the API).
            with sqlite3.connect(db) as conn:
                past = (dt.datetime.now(CHINA).date() - dt.timedelta(days=5)).isoformat()
                conn.execute("UPDATE cases SET expected_completion_date = ? WHERE case_no = ?", (past, late))
            yield SimpleNamespace(url=url, db=db)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def add_todays_cases(url: str) -> str:
    """Cases opened today through the API, which the seeded history lacks: a 容缺 whose supplement
    deadline is still ahead (due neither on time nor late yet), a case returned for correction, and
    one left in review (its case number is returned, to be made overdue)."""
    def call(method: str, path: str, token: str | None = None, **kwargs) -> dict:
        auth = f"Bearer {token}" if token else SERVICE["Authorization"]
        r = httpx.request(method, url + path, headers={"Authorization": auth, **kwargs.pop("headers", {})},
                          timeout=30, **kwargs)
        assert r.status_code < 400, r.text
        return r.json()

    def token(username: str) -> str:
        return call("POST", "/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})["access_token"]

    def open_case(code: str, *, but: tuple[str, ...] = ()) -> dict:
        body = {"service_code": code, "applicant_name": "杨子妹", "id_number": "513223198001010011",
                "phone": "13812345678", "hukou_town": "赤不苏镇", "hukou_village": "雅都村", "intake_point": "online",
                "channel": "web_chat", "conversation_id": f"dashboard-test-{uuid.uuid4().hex}",
                "materials_have": required_materials(code, but=but), "repeat_confirmed": True}
        return call("POST", "/api/v1/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    reviewer = token("reviewer-chibusu")
    deferred = open_case("MX-013", but=(DEFERRABLE,))  # 高龄津贴: the social security card copy may follow later
    agent = token(holder_username(deferred))  # only the agent holding a case opens its deferral
    call("POST", f"/api/v1/cases/{deferred['case_no']}/review", reviewer, json={"decision": "approve_deferral"})
    call("POST", f"/api/v1/cases/{deferred['case_no']}/deferral", agent, json={"missing": [DEFERRABLE]})
    returned = open_case("MX-001")["case_no"]
    call("POST", f"/api/v1/cases/{returned}/review", reviewer,
         json={"decision": "return", "opinion": "户口簿页不清楚", "deficiencies": ["户口簿"]})
    return open_case("MX-001")["case_no"]


# ---------------------------------------------------------------- the figures, recomputed here

def _utc(text: str | None) -> dt.datetime | None:
    """A stored timestamp (naive UTC text on SQLite) as an aware UTC moment."""
    if text is None:
        return None
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def _china_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(CHINA).date()


def read_records(db: Path) -> SimpleNamespace:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        cases = [dict(r) for r in con.execute(
            "SELECT id, case_no, applicant_name, id_number_masked, phone_masked, id_last4, phone_last4, "
            "hukou_town_code AS town, service_code AS item, stage, created_at, expected_completion_date, visits, "
            "conversation_id FROM cases")]
        completed: dict[int, dt.datetime] = {}
        for case_id, at in con.execute("SELECT case_id, at FROM case_events WHERE to_stage = 'completed'"):
            completed[case_id] = min(_utc(at), completed.get(case_id, _utc(at)))
        deferrals = {r["case_id"]: (dt.date.fromisoformat(r["deadline"]), _utc(r["supplied_at"]))
                     for r in con.execute("SELECT case_id, deadline, supplied_at FROM deferrals")}
        ratings = dict(con.execute("SELECT case_id, level FROM ratings").fetchall())
        handed = {r[0] for r in con.execute("SELECT conversation_id FROM handoff_requests")}
        conversations = [(r[0], _utc(r[1])) for r in con.execute("SELECT id, created_at FROM conversations")]
        towns = dict(con.execute("SELECT code, name FROM towns").fetchall())
        items = dict(con.execute("SELECT code, name FROM service_items").fetchall())
        staff = [r[0] for r in con.execute("SELECT display_name FROM staff")]
    finally:
        con.close()
    for c in cases:
        c["created_at"] = _utc(c["created_at"])
        c["expected_completion_date"] = dt.date.fromisoformat(c["expected_completion_date"])
    return SimpleNamespace(cases=cases, completed=completed, deferrals=deferrals, ratings=ratings, handed=handed,
                           conversations=conversations, towns=towns, items=items, staff=staff)


def rate(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def half_up(x: Fraction, places: int) -> str:
    """x (not negative) with `places` decimals, halves rounded up (四舍五入)."""
    scaled = (x * 10 ** places * 2 + 1) // 2
    return f"{scaled // 10 ** places}.{scaled % 10 ** places:0{places}d}" if places else str(scaled)


def figures(rec: SimpleNamespace, group: list[dict], now: dt.datetime) -> dict:
    today = _china_date(now)
    n = len(group)
    opened = [c for c in group if c["stage"] in OPEN]
    ages = [(now - c["created_at"]).total_seconds() / 86400 for c in opened]
    done = [c for c in group if c["id"] in rec.completed]
    on_time = [c for c in done if _china_date(rec.completed[c["id"]]) <= c["expected_completion_date"]]
    deferred = [(*rec.deferrals[c["id"]], c["stage"]) for c in group if c["id"] in rec.deferrals]
    # Due: supplied (on time or late), or overdue — nothing arrived, the deadline has passed, and the case has
    # not ended without a result (a terminated case owes nothing more: erma/deferral/overdue.py).
    due = [(deadline, supplied) for deadline, supplied, stage in deferred
           if supplied is not None or (deadline < today and stage not in ENDED_WITHOUT_RESULT)]
    supplied_on_time = [1 for deadline, supplied in due if supplied is not None and _china_date(supplied) <= deadline]
    levels = Counter(rec.ratings[c["id"]] for c in group if c["id"] in rec.ratings)
    chat = [c for c in group if c["conversation_id"]]
    handed = [c for c in chat if c["conversation_id"] in rec.handed]
    # Trips (cases.visits: the count of the case's recorded trips) are measured over the cases with
    # at least one; the others are 未记录, left out of 最多跑一次.
    visits = sum(c["visits"] for c in group)
    recorded = sum(1 for c in group if c["visits"] >= 1)
    one_visit = sum(1 for c in group if c["visits"] == 1)
    return {
        "cases": n,
        "by_stage": {s: sum(1 for c in group if c["stage"] == s) for s in STAGES},
        "open": len(opened), "overdue": sum(1 for c in opened if c["stage"] in CLOCK_RUNNING
                                                     and c["expected_completion_date"] < today),
        "ages": {key: sum(1 for a in ages if a >= low and (high is None or a < high)) for key, low, high in AGE_BUCKETS},
        "oldest_days": int(max(ages)) if ages else None,
        "completed": len(done), "on_time": len(on_time), "on_time_rate": rate(len(on_time), len(done)),
        "visits": visits, "visits_mean": rate(visits, recorded), "recorded": recorded, "unrecorded": n - recorded,
        "one_visit": one_visit, "one_visit_share": rate(one_visit, recorded),
        "deferrals": len(deferred), "deferral_share": rate(len(deferred), n),
        "due": len(due), "supplied_on_time": len(supplied_on_time), "supplement_rate": rate(len(supplied_on_time), len(due)),
        "levels": {level: levels.get(level, 0) for level in LEVELS}, "ratings": sum(levels.values()),
        "bad": levels.get(1, 0) + levels.get(2, 0),
        "chat": len(chat), "handed": len(handed), "handoff_rate": rate(len(handed), len(chat)),
    }


def expected(rec: SimpleNamespace, start: dt.date, end: dt.date, town: str | None, now: dt.datetime) -> dict:
    cases = [c for c in rec.cases if start <= _china_date(c["created_at"]) <= end and (town is None or c["town"] == town)]
    by = lambda key: {k: figures(rec, [c for c in cases if c[key] == k], now) for k in {c[key] for c in cases}}  # noqa: E731
    conversations = [cid for cid, at in rec.conversations if start <= _china_date(at) <= end]
    cells = {(c["town"], c["item"]) for c in cases}
    return {
        "totals": figures(rec, cases, now), "by_town": by("town"), "by_item": by("item"), "none": figures(rec, [], now),
        "by_cell": {k: figures(rec, [c for c in cases if (c["town"], c["item"]) == k], now) for k in cells},
        "conversations": (len(conversations), sum(1 for cid in conversations if cid in rec.handed)),
    }


# How the dashboard writes its figures (the CSV export the same): a rate as a percentage with one
# decimal, the mean with two, halves rounded up.
def pct(value: Fraction | None) -> str | None:
    return None if value is None else half_up(value * 100, 1) + "%"


def mean(value: Fraction | None) -> str:
    return "—" if value is None else half_up(value, 2)


# ---------------------------------------------------------------- reading the page

def text_of(page: Page, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def read_table(page: Page, section: str) -> dict[str, dict[str, str]]:
    """The main figures table of a section: row code → {column key → text}."""
    return page.evaluate("""(selector) => {
        const rows = {};
        for (const tr of document.querySelectorAll(selector)) {
            const cells = { name: tr.querySelector("th").textContent.trim() };
            for (const td of tr.querySelectorAll("td[data-key]")) cells[td.dataset.key] = td.textContent.trim();
            rows[tr.dataset.code] = cells;
        }
        return rows;
    }""", f"#{section}-tables .table-wrap:first-child tr[data-code]")


def rate_cell(value: float | None, part: int, whole: int) -> str:
    return "—" if value is None else f"{pct(value)}{part}/{whole}"


def visit_cell(f: dict) -> str:
    """最多跑一次 in the table: the share over the recorded cases, and how many are 未记录."""
    unrecorded = f"未记录 {f['unrecorded']} 件" if f["unrecorded"] else ""
    if f["one_visit_share"] is None:
        return f"未记录{f['unrecorded']} 件" if f["cases"] else "—"
    return f"{pct(f['one_visit_share'])}{f['one_visit']}/{f['recorded']}" + (f" · {unrecorded}" if unrecorded else "")


def visit_tile(t: dict) -> str:
    counts = f"{t['recorded']} 件有跑动记录，{t['unrecorded']} 件未记录"
    if t["one_visit_share"] is None:
        return f"最多跑一次 未记录 {counts}"
    return f"最多跑一次 {pct(t['one_visit_share'])} {counts} {t['one_visit']}/{t['recorded']} 件 · 平均跑动 {mean(t['visits_mean'])} 次"


def table_row(f: dict) -> dict[str, str]:
    """What a row of the main figures table holds (all of a town's or an item's headline figures)."""
    return {
        "cases": str(f["cases"]), "open": str(f["open"]), "overdue": str(f["overdue"]),
        "oldest_days": "—" if f["oldest_days"] is None else str(f["oldest_days"]),
        "on_time_rate": rate_cell(f["on_time_rate"], f["on_time"], f["completed"]),
        "visits_mean": mean(f["visits_mean"]) + (f"共 {f['visits']} 次" if f["recorded"] else ""),
        "at_most_one_share": visit_cell(f),
        "deferral_share": rate_cell(f["deferral_share"], f["deferrals"], f["cases"]),
        "on_time_supplement_rate": rate_cell(f["supplement_rate"], f["supplied_on_time"], f["due"]),
        "ratings": str(f["ratings"]), "bad": str(f["bad"]),
        "handoff_rate": rate_cell(f["handoff_rate"], f["handed"], f["chat"]),
    }


def check_table(page: Page, section: str, want: dict, names: dict[str, str]) -> None:
    """Every row of a section's main table, and its foot (the whole of what is in view)."""
    details = page.locator(f"#{section}-details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    groups = want["by_town"] if section == "town" else want["by_item"]
    shown = read_table(page, section)
    assert shown.pop("total") == {"name": "合计", **table_row(want["totals"])}
    for code, row in shown.items():
        fig = groups.get(code) or want["none"]
        assert row == {"name": names[code], **table_row(fig)}, code
    assert set(groups) <= set(shown)
    if section == "item":  # most cases first
        assert list(shown) == sorted(groups, key=lambda code: (-groups[code]["cases"], code))


def check_totals(page: Page, want: dict) -> None:
    t = want["totals"]
    kpi = lambda key: text_of(page, f'[data-kpi="{key}"]')  # noqa: E731

    def share(label: str, value: float | None, sub: str, none: str) -> str:
        return f"{label} {none}" if value is None else f"{label} {pct(value)} {sub}"

    assert kpi("cases") == f"收件 {t['cases']} 件"
    assert kpi("open") == (f"未办结 {t['open']} 件 已超期 {t['overdue']} 件 · 最长 {t['oldest_days']} 天" if t["open"]
                           else "未办结 0 件 全部办完")
    assert kpi("on_time") == share("按时办结率", t["on_time_rate"], f"{t['on_time']}/{t['completed']} 件", "暂无办结")
    assert kpi("one_visit") == visit_tile(t)
    assert kpi("deferral") == share("容缺受理比例", t["deferral_share"], f"{t['deferrals']}/{t['cases']} 件", "暂无办件")
    assert kpi("supplement") == share("容缺按期补齐率", t["supplement_rate"], f"{t['supplied_on_time']}/{t['due']} 件",
                                      "暂无到期的容缺件")
    assert kpi("ratings") == f"评价 {t['ratings']} 条 差评 {t['bad']} 条"
    assert kpi("handoff") == share("聊天办件转人工", t["handoff_rate"], f"{t['handed']}/{t['chat']} 件", "暂无聊天办件")
    # The overview charts: every stage, every age bucket, every rating level, the number beside the bar.
    for stage in STAGES:
        assert text_of(page, f'[data-chart="by_stage"] [data-code="{stage}"] .bar-value') == f"{t['by_stage'][stage]} 件"
    for key, _, _ in AGE_BUCKETS:
        assert text_of(page, f'[data-chart="age"] [data-code="{key}"] .bar-value') == f"{t['ages'][key]} 件"
    for level in LEVELS:
        assert text_of(page, f'[data-chart="rating_levels"] [data-code="{level}"] .bar-value') == f"{t['levels'][level]} 条"


def chart_row(page: Page, section: str, metric: str, code: str) -> tuple[str, str]:
    """The number beside a group's bar in one comparison chart, and the parts spelled out under it.
    A phone shows one chart at a time: pick it in the list first."""
    pick = page.locator(f"#{section}-metric")
    if pick.is_visible():
        pick.select_option(metric)
    row = page.locator(f'#{section}-charts [data-chart="{metric}"] [data-code="{code}"]')
    expect(row).to_be_visible()
    detail = row.locator(".bar-detail")
    return text_of(page, f'#{section}-charts [data-chart="{metric}"] [data-code="{code}"] .bar-value'), \
        (" ".join(detail.inner_text().split()) if detail.count() else "")


def charted_items(page: Page, want: dict) -> list[str]:
    """The items in the comparison charts: the 10 with the most cases, ties by code (a tie can
    leave the item with the highest code off the chart, so the test takes what the chart must show)."""
    ranked = sorted(want["by_item"], key=lambda k: (-want["by_item"][k]["cases"], k))[:10]
    shown = page.locator('#item-charts [data-chart="cases"] [data-code]')
    assert [shown.nth(i).get_attribute("data-code") for i in range(shown.count())] == ranked
    return ranked


def check_group(page: Page, section: str, code: str, f: dict) -> None:
    """One town's (or item's) bars in the comparison charts."""
    value, detail = chart_row(page, section, "cases", code)
    ended = f["cases"] - f["open"] - f["completed"]
    assert (value, detail) == (f"{f['cases']} 件", f"办理中 {f['open']} · 已办结 {f['completed']} · 未办成 {ended}")
    value, detail = chart_row(page, section, "on_time", code)
    assert value == (pct(f["on_time_rate"]) or "暂无办结")
    if f["completed"]:
        assert detail == f"{f['on_time']}/{f['completed']} 件按时办结"
    value, detail = chart_row(page, section, "one_visit", code)
    assert value == (pct(f["one_visit_share"]) or "未记录")
    parts = ([f"{f['one_visit']}/{f['recorded']} 件最多跑一次 · 平均跑动 {mean(f['visits_mean'])} 次"] if f["recorded"] else []) \
        + ([f"未记录 {f['unrecorded']} 件"] if f["unrecorded"] else [])
    assert detail == " · ".join(parts)
    value, _ = chart_row(page, section, "supplement", code)
    assert value == (pct(f["supplement_rate"]) or "暂无到期的容缺件")
    value, detail = chart_row(page, section, "ratings", code)
    assert value == f"{f['ratings']} 条评价" + (f" · 差评 {f['bad']}" if f["ratings"] else "")
    assert detail == " · ".join(f"{LEVELS[lv]} {n}" for lv, n in f["levels"].items() if n)
    value, _ = chart_row(page, section, "handoff", code)
    assert value == (pct(f["handoff_rate"]) or "暂无聊天提交的办件")


def figures_on_page(page: Page, url: str, *, wait_from: str | None = None) -> dt.datetime:
    """Waits for the figures (of the range starting `wait_from`) and returns the moment they were computed."""
    main = page.locator("#dash")
    if wait_from:
        expect(main).to_have_attribute("data-from", wait_from)
    expect(main).to_have_attribute("data-generated-at", re.compile(r"\d{4}-"))
    expect(page.locator("#dash-loading")).to_be_hidden()
    body = page.locator("body").inner_text()
    for junk in ("NaN", "undefined", "null", "Infinity"):
        assert junk not in body
    return dt.datetime.fromisoformat(main.get_attribute("data-generated-at"))


# ---------------------------------------------------------------- the test

@pytest.fixture
def dash_page(console_page):
    return console_page


def test_the_dashboard_shows_the_figures_of_a_seeded_data_set(platform, dash_page: Page):
    page, size, url = dash_page, dash_page.viewport_name, platform.url
    shot = lambda step: screenshot(page, f"dashboard-{size}-{step}")  # noqa: E731
    rec = read_records(platform.db)

    # A duty lead signs in on the sign-in page and goes from the duty lead's page to the dashboard.
    page.goto(f"{url}/staff/login")
    page.fill("#username", "lead-1")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{url}/staff/lead")
    page.get_by_role("navigation", name="工作台导航").get_by_role("link", name="统计", exact=True).click()
    expect(page).to_have_url(f"{url}/staff/dashboard")

    # The default view: the whole county, cases opened in the last 90 days.
    now = figures_on_page(page, url)
    today = _china_date(now)
    start = today - dt.timedelta(days=89)
    want = expected(rec, start, today, None, now)
    t = want["totals"]
    # The seeded set exercises every figure (else the comparison below would prove little).
    assert t["cases"] > 60 and t["open"] and t["completed"] > t["on_time"] > 0 and t["deferrals"] and t["due"]
    assert t["ratings"] and t["bad"] and t["handed"] and t["cases"] > t["one_visit"] and t["deferrals"] > t["due"]
    assert t["recorded"] > t["one_visit"] > 0 and t["unrecorded"]
    assert t["by_stage"]["returned_for_correction"] and t["by_stage"]["deferral_accepted"] and t["overdue"]
    assert page.locator("#dash-from").input_value() == start.isoformat()
    assert page.locator("#dash-to").input_value() == today.isoformat()
    expect(page.locator("#dash-scope")).to_contain_text(f"全县 · {start.year}年{start.month}月{start.day}日至")
    check_totals(page, want)
    conv_total, conv_handed = want["conversations"]
    assert text_of(page, '[data-kpi="conversations"]') == \
        f"聊天会话转人工 {pct(rate(conv_handed, conv_total))} {conv_handed}/{conv_total} 个会话"
    shot("01-county")

    # The town and the item with the most cases: their bars and their table rows.
    town = max(want["by_town"], key=lambda k: (want["by_town"][k]["cases"], k))
    check_group(page, "town", town, want["by_town"][town])
    # The table: every town, those without a case too; its foot is the county.
    check_table(page, "town", want, rec.towns)
    assert page.locator("#town-tables .table-wrap:first-child tbody tr").count() == len(rec.towns)
    page.locator("#sec-towns").scroll_into_view_if_needed()
    shot("02-towns")
    item = charted_items(page, want)[0]
    check_group(page, "item", item, want["by_item"][item])
    check_table(page, "item", want, rec.items)  # every item with a case, most cases first
    assert page.locator("#item-tables .table-wrap:first-child tbody tr").count() == len(want["by_item"])
    page.locator("#sec-items").scroll_into_view_if_needed()
    shot("03-items")
    page.locator("#item-details summary").click()  # closed again: a long table

    # A range that ends before it starts: the platform's message next to the field, nothing lost.
    town_name = rec.towns[town]
    bad_from, bad_to = (today - dt.timedelta(days=5)).isoformat(), (today - dt.timedelta(days=30)).isoformat()
    page.fill("#dash-from", bad_from)
    page.fill("#dash-to", bad_to)
    page.select_option("#dash-town", label=town_name)
    page.get_by_role("button", name="查看").click()
    expect(page.locator('[data-error-for="from"]')).to_have_text("开始日期不能晚于结束日期")
    assert page.locator("#dash-from").input_value() == bad_from and page.locator("#dash-to").input_value() == bad_to
    assert page.locator("#dash-town").input_value() == town
    shot("04-bad-range")

    # One town, 60 to 5 days ago; the network fails the first time: a message, the filters kept.
    f_start, f_end = today - dt.timedelta(days=60), today - dt.timedelta(days=5)
    page.fill("#dash-from", f_start.isoformat())
    page.fill("#dash-to", f_end.isoformat())
    page.route("**/api/v1/dashboard?*", lambda route: route.abort())
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#dash-error")).to_have_text("网络不通，请检查网络后再试")
    assert page.locator("#dash-from").input_value() == f_start.isoformat()
    assert page.locator("#dash-town").input_value() == town
    expect(page.locator('[data-error-for="from"]')).to_have_text("")
    page.unroute("**/api/v1/dashboard?*")
    page.get_by_role("button", name="查看").click()
    now = figures_on_page(page, url, wait_from=f_start.isoformat())
    expect(page.locator("#dash-error")).to_have_text("")
    assert page.url == f"{url}/staff/dashboard?from={f_start.isoformat()}&to={f_end.isoformat()}&town={town}"
    expect(page.locator("#dash-scope")).to_contain_text(f"{town_name} · ")
    want = expected(rec, f_start, f_end, town, now)
    assert want["totals"]["cases"] > 5
    check_totals(page, want)
    assert page.locator('[data-kpi="conversations"]').count() == 0  # conversations have no town
    expect(page.locator("#sec-towns")).to_be_hidden()  # the overview is the town's; nothing to compare
    item = charted_items(page, want)[0]
    check_group(page, "item", item, want["by_item"][item])
    check_table(page, "item", want, rec.items)
    page.evaluate("window.scrollTo(0, 0)")
    shot("05-town-filtered")

    # The CSV export of the same filters: one row per town × item, the same figures, no personal data.
    href = page.locator("#dash-csv").get_attribute("href")
    assert href == f"/api/v1/dashboard.csv?from={f_start.isoformat()}&to={f_end.isoformat()}&town={town}"
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 CSV").click()
    raw = Path(download.value.path()).read_bytes()
    check_csv(raw, rec, want, town)

    # A range without any case: a plain Chinese sentence instead of empty charts.
    empty_from, empty_to = today - dt.timedelta(days=400), today - dt.timedelta(days=300)
    page.fill("#dash-from", empty_from.isoformat())
    page.fill("#dash-to", empty_to.isoformat())
    page.select_option("#dash-town", "")
    page.get_by_role("button", name="查看").click()
    figures_on_page(page, url, wait_from=empty_from.isoformat())
    expect(page.locator("#dash-empty")).to_be_visible()
    expect(page.locator("#dash-empty")).to_contain_text("没有新收的办件")
    expect(page.locator("#dash-body")).to_be_hidden()
    shot("06-empty")


def check_csv(raw: bytes, rec: SimpleNamespace, want: dict, town: str) -> None:
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads the Chinese
    text = raw.decode("utf-8-sig")
    every_row = list(csv.DictReader(io.StringIO(text)))
    rows, total = every_row[:-1], every_row[-1]  # one town in view: its town × item rows, then the total
    assert (total["镇代码"], total["镇"], total["事项编码"], total["事项"]) == ("", "（合计）", "", "（全部事项）")
    assert (total["收件数"], total["按时办结"], total["差评数"]) == \
        (str(want["totals"]["cases"]), str(want["totals"]["on_time"]), str(want["totals"]["bad"]))
    assert total["按时办结率(%)"] == ("" if want["totals"]["on_time_rate"] is None else pct(want["totals"]["on_time_rate"])[:-1])
    assert {(r["镇代码"], r["事项编码"]) for r in rows} == set(want["by_cell"])
    for r in rows:
        f = want["by_cell"][(r["镇代码"], r["事项编码"])]
        assert r["镇代码"] == town and r["镇"] == rec.towns[town] and r["事项"] == rec.items[r["事项编码"]]
        number = lambda v: "" if v is None else str(v)  # noqa: E731
        plain = lambda v: "" if v is None else pct(v)[:-1]  # noqa: E731
        assert (r["收件数"], r["未办结"], r["未办结已超期"], r["最长已办天数"]) == \
            (str(f["cases"]), str(f["open"]), str(f["overdue"]), number(f["oldest_days"]))
        assert (r["已办结"], r["按时办结"], r["按时办结率(%)"]) == \
            (str(f["completed"]), str(f["on_time"]), plain(f["on_time_rate"]))
        assert (r["跑动总次数"], r["有跑动记录件数"], r["跑动未记录件数"], r["平均跑动次数"], r["最多跑一次件数"],
                r["最多跑一次比例(%)"]) == \
            (str(f["visits"]), str(f["recorded"]), str(f["unrecorded"]), "" if f["visits_mean"] is None else mean(f["visits_mean"]),
             str(f["one_visit"]), plain(f["one_visit_share"]))
        assert (r["容缺件数"], r["容缺比例(%)"], r["容缺应补齐件数"], r["按期补齐件数"], r["按期补齐率(%)"]) == \
            (str(f["deferrals"]), plain(f["deferral_share"]), str(f["due"]), str(f["supplied_on_time"]),
             plain(f["supplement_rate"]))
        assert [r[name] for name in LEVELS.values()] == [str(n) for n in f["levels"].values()]
        assert (r["评价数"], r["差评数"], r["聊天提交件数"], r["转人工件数"], r["转人工率(%)"]) == \
            (str(f["ratings"]), str(f["bad"]), str(f["chat"]), str(f["handed"]), plain(f["handoff_rate"]))
    # The rows add up to what the page shows for the town.
    totals = want["totals"]
    assert sum(int(r["收件数"]) for r in rows) == totals["cases"]
    assert sum(int(r["按时办结"]) for r in rows) == totals["on_time"]
    assert sum(int(r["差评数"]) for r in rows) == totals["bad"]
    # Nothing personal: besides the town's and items' names, every cell is a number (or empty) …
    for r in every_row:
        for column, value in r.items():
            if column not in ("镇", "事项", "事项编码"):
                assert re.fullmatch(r"(\d+(\.\d+)?)?", value), (column, value)
    # … and no applicant, case number, masked ID or phone, or staff member appears anywhere.
    for c in rec.cases:
        for value in (c["case_no"], c["id_number_masked"], c["phone_masked"]):
            assert value not in text
        if len(c["applicant_name"]) >= 3:  # two-character names could be part of an item's name
            assert c["applicant_name"] not in text
    for name in rec.staff:
        if len(name) >= 3:
            assert name not in text
    assert "EM-" not in text
