"""Admins' holiday overrides (节假日调整): they move promised dates, only admins make them, a year with no
official arrangement makes dates provisional (and the admin API warns), deleting one restores the
previous computation, and another process picks an edit up by the version check."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

import erma.cases.intake as intake
import erma.cases.timing as timing
import erma.calendar.service as calendar_service
from erma.calendar import sync
from erma.calendar.models import CalendarOverride
from erma.working_days import (AdminOverrides, WorkingCalendar, add_working_days, install_admin_overrides, is_working_day,
                               library_years, parse_overrides)
from tests.platform.conftest import VALID_ID

# chinesecalendar (as pinned) knows 2004-2026: 2027 is the year the issue met, and 元旦 2027 is a Friday.
NEW_YEAR = dt.date(2027, 1, 1)
ITEM = "MX-001"
API = "/api/v1/admin/calendar"


@pytest.fixture(autouse=True)
def fresh_calendar(db):
    """Each test starts and ends with no admin layer (the db fixture wipes the tables after us)."""
    install_admin_overrides(AdminOverrides())
    yield
    install_admin_overrides(AdminOverrides())


@pytest.fixture
def opened_on(monkeypatch):
    """Cases opened as if on `day` (the promised date is counted from the China date of intake)."""
    def use(day: dt.date) -> None:
        monkeypatch.setattr(intake, "today_local", lambda now=None: day)
        monkeypatch.setattr(timing, "today_local", lambda now=None: day)
    return use


def _promised(client, login, open_case) -> dict:
    no = open_case(service_code=ITEM)["case_no"]
    return client.get(f"/api/v1/cases/{no}", headers=login("admin")).json()


def _start_landing_on(client, login, day: dt.date) -> dt.date:
    n = client.get(f"/api/v1/admin/services/{ITEM}", headers=login("admin")).json()["item"]["promised_working_days"]
    return add_working_days(day, -n)


def test_library_does_not_know_2027():
    assert library_years()[1] < NEW_YEAR.year, "the pinned holiday library now knows 2027: pick a later year"
    assert is_working_day(NEW_YEAR)  # the weekday fallback: the bug of the issue


def test_an_admin_edit_wins_over_the_file_and_the_library():
    file = parse_overrides({"years": {2026: {"working_days": ["2026-11-07"]}}})
    cal = WorkingCalendar(file, AdminOverrides({dt.date(2026, 11, 7): False, dt.date(2026, 10, 1): True}, {2030: "某通知"}))
    assert not cal.is_working_day(dt.date(2026, 11, 7))  # the file's makeup Saturday, taken back by an admin
    assert cal.is_working_day(dt.date(2026, 10, 1))  # National Day in the library, made a working day
    assert cal.is_covered(2026) and cal.is_covered(2030) and not cal.is_covered(2031)
    assert cal.uncovered_years(dt.date(2026, 12, 20), dt.date(2031, 1, 5)) == [2027, 2028, 2029, 2031]
    assert cal.uncovered_years(dt.date(2026, 12, 1), dt.date(2026, 12, 31)) == []


def test_admin_holiday_moves_a_promised_date_and_deleting_it_restores_it(client, login, open_case, opened_on):
    admin = login("admin")
    opened_on(_start_landing_on(client, login, NEW_YEAR))
    before = _promised(client, login, open_case)
    assert before["expected_completion_date"] == "2027-01-01"

    r = client.post(f"{API}/overrides", json={"day": "2027-01-01", "kind": "holiday", "note": "元旦"}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["kind_text"] == "放假"
    # The case already opened keeps its date, and the admin is told so.
    assert "1 件办件" in r.json()["notice"] and "不会自动改变" in r.json()["notice"]

    moved = _promised(client, login, open_case)
    assert moved["expected_completion_date"] == "2027-01-04"  # the next Monday
    listed = client.get(API, headers=admin).json()
    year = next(y for y in listed["years"] if y["year"] == 2027)
    assert [(i["day"], i["kind"], i["note"]) for i in year["items"]] == [("2027-01-01", "holiday", "元旦")]
    audit = client.get("/api/v1/admin/audit", params={"entity": "calendar_override"}, headers=admin).json()["items"]
    assert audit[0]["key"] == "2027-01-01" and audit[0]["actor"] == "admin" and audit[0]["entity_text"] == "节假日调整"

    r = client.delete(f"{API}/overrides/2027-01-01", headers=admin)
    assert r.status_code == 200, r.text
    assert _promised(client, login, open_case)["expected_completion_date"] == "2027-01-01"
    assert client.delete(f"{API}/overrides/2027-01-01", headers=admin).status_code == 404


def test_a_makeup_working_day_counts(client, login, open_case, opened_on):
    opened_on(_start_landing_on(client, login, dt.date(2027, 1, 4)))  # would land on Monday 4 January
    r = client.post(f"{API}/overrides", json={"day": "2027-01-02", "kind": "working", "note": "调休上班"},
                    headers=login("admin"))
    assert r.status_code == 201, r.text
    assert _promised(client, login, open_case)["expected_completion_date"] == "2027-01-02"


@pytest.mark.parametrize("username", ["agent-nanxin-1", "reviewer-nanxin", "lead-1"])
def test_only_admins_see_or_edit_the_calendar(client, login, username):
    headers = login(username)
    assert client.get(API, headers=headers).status_code == 403
    r = client.post(f"{API}/overrides", json={"day": "2027-01-01", "kind": "holiday"}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["message"].startswith("只有县级管理员")
    assert client.put(f"{API}/years/2027", json={"source": "某通知"}, headers=headers).status_code == 403
    assert client.delete(f"{API}/overrides/2027-01-01", headers=headers).status_code == 403
    assert client.post(f"{API}/overrides", json={"day": "2027-01-01", "kind": "holiday"}).status_code == 401
    with sync.get_sessionmaker()() as s:
        assert s.scalar(select(CalendarOverride)) is None


def test_a_day_is_either_holiday_or_working_and_errors_are_in_chinese(client, login):
    admin = login("admin")
    assert client.post(f"{API}/overrides", json={"day": "2027-01-01", "kind": "holiday"}, headers=admin).status_code == 201
    clash = client.post(f"{API}/overrides", json={"day": "2027-01-01", "kind": "working"}, headers=admin)
    assert clash.status_code == 409
    assert "已设为放假" in clash.json()["error"]["message"] and "请先删除" in clash.json()["error"]["message"]
    # The same kind again only changes the note.
    again = client.post(f"{API}/overrides", json={"day": "2027-01-01", "kind": "holiday", "note": "元旦"}, headers=admin)
    assert again.status_code == 201 and again.json()["note"] == "元旦"
    bad = client.post(f"{API}/overrides", json={"day": "2027-13-01", "kind": "放假"}, headers=admin)
    assert bad.status_code == 422
    fields = {e["field"]: e["message"] for e in bad.json()["error"]["errors"]}
    assert fields == {"day": "日期格式不对，应写成 2027-01-01", "kind": "请选择“放假”或“调休上班”"}
    far = client.post(f"{API}/overrides", json={"day": "2300-01-01", "kind": "holiday"}, headers=admin)
    assert far.status_code == 422 and "年份" in far.json()["error"]["message"]


def test_a_past_date_may_be_edited_and_the_admin_is_told(client, login):
    r = client.post(f"{API}/overrides", json={"day": "2020-05-06", "kind": "holiday", "note": "补录"},
                    headers=login("admin"))
    assert r.status_code == 201
    assert "已经过去" in r.json()["notice"]


def test_an_uncovered_year_makes_the_promise_provisional_and_the_admin_api_warns(client, login, open_case, opened_on,
                                                                                 monkeypatch):
    admin = login("admin")
    monkeypatch.setattr(calendar_service, "today_local", lambda now=None: dt.date(2026, 12, 6))
    overview = client.get(API, headers=admin).json()
    assert [w["year"] for w in overview["warnings"]] == [2027]
    assert overview["warnings"][0]["message"].startswith("2027 年的法定节假日安排尚未录入，涉及该年的承诺办结日期为暂定")
    assert next(y for y in overview["years"] if y["year"] == 2026)["source_from"] == "library"

    opened_on(_start_landing_on(client, login, NEW_YEAR))
    case = _promised(client, login, open_case)
    assert case["expected_completion_provisional"] is True
    status = client.get(f"/api/v1/cases/{case['case_no']}/status", params={"last4": VALID_ID[-4:]}).json()
    assert status["expected_completion_provisional"] is True

    # A date inside a covered year is firm.
    opened_on(dt.date(2026, 11, 2))
    firm_no = open_case(service_code="MX-024")["case_no"]
    assert client.get(f"/api/v1/cases/{firm_no}", headers=admin).json()["expected_completion_provisional"] is False

    # Entering the year's source (after its dates) ends the warning and the provisional mark; withdrawing it restores both.
    r = client.put(f"{API}/years/2027", json={"source": "国办发明电〔2026〕X号"}, headers=admin)
    assert r.status_code == 200, r.text
    overview = client.get(API, headers=admin).json()
    assert overview["warnings"] == []
    assert next(y for y in overview["years"] if y["year"] == 2027)["source"] == "国办发明电〔2026〕X号"
    assert client.get(f"/api/v1/cases/{case['case_no']}", headers=admin).json()["expected_completion_provisional"] is False
    assert client.put(f"{API}/years/2027", json={"source": ""}, headers=admin).status_code == 200
    assert [w["year"] for w in client.get(API, headers=admin).json()["warnings"]] == [2027]
    assert client.get(f"/api/v1/cases/{case['case_no']}", headers=admin).json()["expected_completion_provisional"] is True


def test_another_process_picks_up_an_edit_by_the_version_check(db, monkeypatch):
    """The worker (or a second web process) did not make the edit: its next check reloads."""
    sync.refresh(db, force=True)
    assert is_working_day(NEW_YEAR)
    with db() as s, s.begin():  # what the web process's edit left in the database
        s.add(CalendarOverride(day=NEW_YEAR, kind="holiday", note="元旦", updated_by="staff:admin"))
    sync.refresh(db)  # checked a moment ago: not yet
    assert is_working_day(NEW_YEAR)
    monkeypatch.setattr(sync, "_checked_at", None)
    sync.refresh(db)
    assert not is_working_day(NEW_YEAR)
