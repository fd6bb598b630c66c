"""Rules that used to have several owners, now decided in one place each: what "overdue" means (the
duty lead's list, the dashboard and the outbox's escalation agree on the same data), which stages
end a case, and the office hours a resident is told about."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from erma.cases.stages import ENDED_STAGES, ENDED_WITHOUT_RESULT, TRANSITIONS, Stage
from erma.clock import local_midnight_utc, today_local
from erma.conversations.handoff import request_handoff
from erma.conversations.service import open_conversation
from erma.county_data import CountyDataError, office_hours
from erma.dashboard.metrics import Filters, compute, group_sums
from erma.deferral.models import Deferral
from erma.deferral.scheduled import handle_overdue
from erma.lead.service import overdue_cases, overdue_deferrals
from erma.settings import get_settings
from erma.staff.auth import Principal
from tests.platform.conftest import ROOT, holder

LEAD = Principal(role="duty_lead")
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴


def _deferral(client, login, open_case) -> tuple[dict, dict]:
    case = open_case(service_code="MX-013")
    r = client.post(f"/api/v1/cases/{case['case_no']}/review", headers=login("reviewer-chibusu"),
                    json={"decision": "approve"})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/cases/{case['case_no']}/deferral", json={"missing": [DEFERRABLE]},
                    headers=login(holder(case["case_no"])))
    assert r.status_code == 201, r.text
    return case, r.json()


def test_the_lead_list_the_dashboard_and_the_escalation_count_the_same_overdue_deferrals(client, login, open_case, db):
    waiting, deferral = _deferral(client, login, open_case)  # past its deadline, nothing supplied: overdue
    terminated, _ = _deferral(client, login, open_case)  # past its deadline, but the case was terminated
    in_time, _ = _deferral(client, login, open_case)  # its deadline is today: still in time
    r = client.post(f"/api/v1/cases/{terminated['case_no']}/transitions", json={"to": "terminated", "note": "群众放弃"},
                    headers=login("lead-1"))
    assert r.status_code == 200, r.text
    today = dt.date.fromisoformat(deferral["deadline"]) + dt.timedelta(days=3)
    late = local_midnight_utc(today) + dt.timedelta(hours=10)
    with db() as s:
        by_case = {d.case_id: d for d in s.scalars(select(Deferral))}
        s.get(Deferral, max(by_case.values(), key=lambda d: d.id).id).deadline = today
        s.commit()

        listed = overdue_deferrals(s, LEAD, now=late)
        opened = today_local()
        _, _, totals = group_sums(compute(s, Filters(start=opened - dt.timedelta(days=1), end=today, town=None,
                                                     towns=None), now=late))
        for d in by_case.values():
            handle_overdue(s, {"deferral_id": d.id}, late)  # what the outbox worker does
        s.commit()
        escalated = [d.form_no for d in s.scalars(select(Deferral).where(Deferral.status == "overdue"))]
        cases = overdue_cases(s, LEAD, now=late)

    assert [row["case_no"] for row in listed["items"]] == [waiting["case_no"]]
    # Nothing was supplied, so every deferral the dashboard counts as due is an overdue one.
    assert listed["total"] == totals["deferrals_due"] == len(escalated) == 1
    assert escalated == [deferral["form_no"]]
    # The case rule is shared the same way: the lead's overdue cases are the dashboard's overdue figure.
    assert cases["total"] == totals["open_overdue"]


def test_ended_stages_are_the_stages_with_no_move_out():
    assert ENDED_STAGES == frozenset(Stage) - frozenset(TRANSITIONS)
    # A case that ended with a result (followed up) is ended for its agent but still owes deferred materials.
    assert ENDED_WITHOUT_RESULT == ENDED_STAGES - {Stage.FOLLOWED_UP}


# ---------------------------------------------------------------- office hours: the county's data decides

MONDAY_1230 = dt.datetime(2026, 12, 7, 4, 30, tzinfo=dt.timezone.utc)  # 12:30 in the county, a working day


def _places_with_sessions(path, sessions: str):
    """A copy of the county's places.yaml with other office hours (a new file: the facts are read once per file)."""
    text = (ROOT / "catalog" / "places.yaml").read_text(encoding="utf-8")
    start = text.index("    sessions:\n")
    end = text.index("  fee:", start)
    path.write_text(text[:start] + "    sessions:\n" + sessions + text[end:], encoding="utf-8")
    return path


def _handoff_message(db) -> str:
    with db() as s:
        conversation, _ = open_conversation(s, "web_chat", now=MONDAY_1230)
        answer = request_handoff(s, conversation.id, "web_chat", "requested", now=MONDAY_1230)
        s.rollback()
    return answer["message"]


def test_the_handoff_answer_follows_the_office_hours_in_places_yaml(db, tmp_path, monkeypatch):
    # As shipped: 9:00–12:00 and 14:00–17:30, so 12:30 on a Monday is lunch time.
    assert "现在是下班时间" in _handoff_message(db)
    assert "工作日 9:00–12:00、14:00–17:30" in _handoff_message(db)

    monkeypatch.setenv("PLACES_PATH", str(_places_with_sessions(
        tmp_path / "long.yaml", '      - {start: "08:30", end: "18:00"}\n')))
    get_settings.cache_clear()
    try:
        assert "前面还有" in _handoff_message(db)  # the county changed its hours: a person answers now
        monkeypatch.setenv("PLACES_PATH", str(_places_with_sessions(
            tmp_path / "split.yaml", '      - {start: "08:00", end: "11:00"}\n      - {start: "15:00", end: "18:30"}\n')))
        get_settings.cache_clear()
        assert "代办员上班后（工作日 8:00–11:00、15:00–18:30）" in _handoff_message(db)
    finally:
        monkeypatch.delenv("PLACES_PATH")
        get_settings.cache_clear()


def test_broken_office_hours_stop_the_load_with_the_file_name(tmp_path):
    path = _places_with_sessions(tmp_path / "broken.yaml", '      - {start: "14:00", end: "9:00"}\n')
    with pytest.raises(CountyDataError, match="opening_hours"):
        office_hours(path)
