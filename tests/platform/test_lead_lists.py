"""The duty lead's lists: overdue 容缺 deadlines, 差评 follow-ups due and cases past their promised
date — the overdue rules on fixed dates (the county's date, not the server's), what each row
carries (town, item, masked applicant, agent, days), role limits, recording a follow-up, the page."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from erma.cases.models import Case
from erma.clock import local_midnight_utc, today_local
from erma.deferral.models import Deferral
from erma.deferral.scheduled import handle_overdue
from erma.lead.service import followups_due, overdue_cases, overdue_deferrals
from erma.review.service import resubmit
from erma.staff.auth import Principal
from tests.platform.conftest import SERVICE, VALID_PHONE, holder

LEAD = Principal(role="duty_lead")
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴
SECOND = dt.timedelta(seconds=1)


def on(day: dt.date) -> dt.datetime:
    """The first instant of `day` in the county (16:00 UTC the day before)."""
    return local_midnight_utc(day)


def _approve(client, login, no):
    r = client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    assert r.status_code == 200, r.text


def _deferral(client, login, open_case) -> tuple[dict, dict]:
    case = open_case(service_code="MX-013")
    _approve(client, login, case["case_no"])
    r = client.post(f"/api/v1/cases/{case['case_no']}/deferral", json={"missing": [DEFERRABLE]},
                    headers=login(holder(case["case_no"])))
    assert r.status_code == 201, r.text
    return case, r.json()


def _complete(client, login, no):
    _approve(client, login, no)
    agent = login(holder(no))
    for to, note in (("at_department", None), ("completed", "准予")):
        r = client.post(f"/api/v1/cases/{no}/transitions", json={"to": to, "note": note}, headers=agent)
        assert r.status_code == 200, r.text


def _rated(client, login, open_case, level, comment=None) -> str:
    no = open_case()["case_no"]
    _complete(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": level, "comment": comment, "conversation_id": "conv-1"}, headers=SERVICE)
    assert r.status_code == 200, r.text
    return no


def _nos(listing: dict) -> list[str]:
    return [row["case_no"] for row in listing["items"]]


# ---------------------------------------------------------------- 容缺 past the deadline


def test_a_deferral_is_overdue_from_the_first_moment_after_its_deadline_day_in_the_county(client, login, open_case, db):
    case, deferral = _deferral(client, login, open_case)
    deadline = dt.date.fromisoformat(deferral["deadline"])
    with db() as s:
        # The deadline day itself, up to its last second in the county, is still in time …
        assert overdue_deferrals(s, LEAD, now=on(deadline + dt.timedelta(days=1)) - SECOND)["items"] == []
        # … and at 00:00 the next day (16:00 UTC on the deadline day) it is overdue by one day.
        first = overdue_deferrals(s, LEAD, now=on(deadline + dt.timedelta(days=1)))
        assert first["today"] == (deadline + dt.timedelta(days=1)).isoformat()
        assert first["total"] == 1
        row = first["items"][0]
        assert row["overdue_days"] == 1
        assert row["case_no"] == case["case_no"] and row["deadline"] == deferral["deadline"]
        assert row["form_no"] == deferral["form_no"] and row["missing_materials"] == [DEFERRABLE]
        assert row["town"] == {"code": "513223114", "name": "赤不苏镇"}
        assert row["service"]["code"] == "MX-013" and "高龄" in row["service"]["name"]
        assert row["applicant"] == {"name": "杨*妹", "phone": "138****5678"}
        assert row["agent"]["name"] == case["agent"]["name"]
        assert row["agent"]["credential_no"] == case["agent"]["credential_no"]
        assert row["stage"] == "deferral_accepted" and row["escalated"] is False
        assert overdue_deferrals(s, LEAD, now=on(deadline + dt.timedelta(days=9)))["items"][0]["overdue_days"] == 9


def test_an_escalated_deferral_stays_listed_with_its_task_until_the_materials_arrive(client, login, open_case, db):
    case, deferral = _deferral(client, login, open_case)
    late = on(dt.date.fromisoformat(deferral["deadline"]) + dt.timedelta(days=2))
    with db() as s:
        d = s.scalar(select(Deferral).where(Deferral.form_no == deferral["form_no"]))
        handle_overdue(s, {"deferral_id": d.id}, late)  # what the outbox worker does after the deadline
        s.commit()
        row = overdue_deferrals(s, LEAD, now=late)["items"][0]
    assert row["escalated"] is True and row["followup_task_id"]

    # The lead records the 督办 outcome on that task; the deferral itself is still overdue.
    lead = login("lead-1")
    r = client.post(f"/api/v1/followup-tasks/{row['followup_task_id']}/complete",
                    json={"outcome": "已电话督促，群众答应周五前补交"}, headers=lead)
    assert r.status_code == 200, r.text
    with db() as s:
        again = overdue_deferrals(s, LEAD, now=late)["items"]
    assert _nos({"items": again}) == [case["case_no"]] and again[0]["followup_task_id"] is None

    r = client.post(f"/api/v1/cases/{case['case_no']}/deferral/supplement", json={}, headers=login("agent-chibusu-1"))
    assert r.status_code == 200, r.text
    with db() as s:
        assert overdue_deferrals(s, LEAD, now=late)["items"] == []
    # The lead's own outcome stays what the lead wrote.
    done = client.get("/api/v1/followup-tasks", params={"status": "done"}, headers=lead).json()["items"]
    assert [t["outcome"] for t in done] == ["已电话督促，群众答应周五前补交"]


def test_the_overdue_deferral_s_task_closes_itself_when_the_materials_arrive(client, login, open_case, db):
    supplied, first = _deferral(client, login, open_case)
    waiting, second = _deferral(client, login, open_case)
    late = on(max(dt.date.fromisoformat(d["deadline"]) for d in (first, second)) + dt.timedelta(days=2))
    with db() as s:
        for d in s.scalars(select(Deferral)):
            handle_overdue(s, {"deferral_id": d.id}, late)  # the outbox escalates both to the duty lead
        s.commit()
    lead = login("lead-1")
    tasks = client.get("/api/v1/lead/followups", params={"kind": "deferral_overdue"}, headers=lead).json()
    assert sorted(_nos(tasks)) == sorted([supplied["case_no"], waiting["case_no"]])

    r = client.post(f"/api/v1/cases/{supplied['case_no']}/deferral/supplement", json={},
                    headers=login("agent-chibusu-1"))
    assert r.status_code == 200, r.text
    # The lead no longer chases it; the other case's 督办 is still open.
    tasks = client.get("/api/v1/lead/followups", params={"kind": "deferral_overdue"}, headers=lead).json()
    assert _nos(tasks) == [waiting["case_no"]]
    assert [t["case_no"] for t in client.get("/api/v1/followup-tasks", headers=lead).json()["items"]] == [waiting["case_no"]]
    done = client.get("/api/v1/followup-tasks", params={"status": "done"}, headers=lead).json()["items"]
    assert [(t["case_no"], t["kind"], t["status"], t["outcome"]) for t in done] == [
        (supplied["case_no"], "deferral_overdue", "done", "材料已补齐，系统自动办结")]
    # The case history says why the 督办 ended, after the materials were recorded.
    events = client.get(f"/api/v1/cases/{supplied['case_no']}/events", headers=lead).json()["items"]
    notes = [(e["kind"], e["actor_name"], e["note"]) for e in events]
    received = next(i for i, n in enumerate(notes) if n[2].startswith("容缺后补材料已收到"))
    assert notes[received + 1] == ("followup", "系统", "容缺逾期督办：材料已补齐，系统自动办结")
    assert not any("督办：材料已补齐" in (e["note"] or "")
                   for e in client.get(f"/api/v1/cases/{waiting['case_no']}/events", headers=lead).json()["items"])


def test_a_terminated_case_s_deferral_is_not_chased(client, login, open_case, db):
    case, deferral = _deferral(client, login, open_case)
    late = on(dt.date.fromisoformat(deferral["deadline"]) + dt.timedelta(days=3))
    r = client.post(f"/api/v1/cases/{case['case_no']}/transitions", json={"to": "terminated", "note": "群众放弃"},
                    headers=login("lead-1"))
    assert r.status_code == 200, r.text
    with db() as s:
        assert overdue_deferrals(s, LEAD, now=late)["items"] == []


def test_longest_overdue_deferral_first(client, login, open_case, db):
    first, _ = _deferral(client, login, open_case)
    second, deferral = _deferral(client, login, open_case)
    with db() as s:
        s.execute(update(Deferral).where(Deferral.form_no == deferral["form_no"])
                  .values(deadline=dt.date.fromisoformat(deferral["deadline"]) - dt.timedelta(days=5)))
        s.commit()
        listing = overdue_deferrals(s, LEAD, now=on(dt.date.fromisoformat(deferral["deadline"]) + dt.timedelta(days=1)))
    assert _nos(listing) == [second["case_no"], first["case_no"]]
    assert [row["overdue_days"] for row in listing["items"]] == [6, 1]


# ---------------------------------------------------------------- cases past their promised date


def test_a_case_is_overdue_the_day_after_its_promised_date_in_the_county(client, open_case, db):
    case = open_case()
    promised = dt.date.fromisoformat(case["expected_completion_date"])
    with db() as s:
        # 23:59:59 on the promised day in 茂县 is 15:59:59 UTC: still in time.
        assert overdue_cases(s, LEAD, now=on(promised + dt.timedelta(days=1)) - SECOND)["items"] == []
        # 00:00 the next day in 茂县 is still the promised day in UTC: already overdue by one day.
        instant = on(promised + dt.timedelta(days=1))
        assert instant.date() == promised
        listing = overdue_cases(s, LEAD, now=instant)
    assert listing["total"] == 1
    row = listing["items"][0]
    assert row["case_no"] == case["case_no"] and row["overdue_days"] == 1
    assert row["expected_completion_date"] == case["expected_completion_date"]
    assert row["town"]["name"] == "赤不苏镇" and row["service"]["code"] == "MX-001"
    assert row["applicant"] == {"name": "杨*妹", "phone": "138****5678"}
    assert row["agent"]["name"] == case["agent"]["name"]
    assert row["stage"] == "town_review" and row["stage_text"] == "户籍地镇审核中"
    assert row["opened_on"] == today_local().isoformat()
    assert row["age_days"] == (promised + dt.timedelta(days=1) - today_local()).days
    # The full ID number and phone never appear in a list row.
    assert VALID_PHONE not in str(row) and "513223198001010011" not in str(row)


def test_finished_and_ended_cases_are_not_overdue(client, login, open_case, db):
    done = open_case()["case_no"]
    _complete(client, login, done)
    withdrawn = open_case()["case_no"]
    r = client.post(f"/api/v1/cases/{withdrawn}/transitions", json={"to": "withdrawn", "note": "不办了"}, headers=SERVICE)
    assert r.status_code == 200, r.text
    still_open = open_case()["case_no"]
    with db() as s:
        promised = max(s.scalars(select(Case.expected_completion_date)))
        listing = overdue_cases(s, LEAD, now=on(promised + dt.timedelta(days=30)))
    # Still open (town review) is listed; completed and withdrawn are not.
    assert _nos(listing) == [still_open]


def test_a_returned_case_is_not_overdue_while_it_waits_for_the_resident(client, login, open_case, db):
    case = open_case()
    no, promised = case["case_no"], dt.date.fromisoformat(case["expected_completion_date"])
    r = client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"),
                    json={"decision": "return", "opinion": "户口簿页不清楚", "deficiencies": ["户口簿"]})
    assert r.status_code == 200, r.text
    back = on(promised + dt.timedelta(days=20)) + dt.timedelta(hours=10)
    with db() as s:
        # Long past the promised date, but the clock stopped when it went back to the resident (补齐补正).
        for day in (promised + dt.timedelta(days=1), promised + dt.timedelta(days=20)):
            assert overdue_cases(s, LEAD, now=on(day))["total"] == 0
        # The corrections arrive: back to town review, the promised date moved on by the pause …
        resubmit(s, s.scalar(select(Case).where(Case.case_no == no)), Principal(role="service"), [], now=back)
        moved = s.scalar(select(Case.expected_completion_date).where(Case.case_no == no))
        assert moved > today_local(back)
        assert overdue_cases(s, LEAD, now=back)["items"] == []
        assert overdue_cases(s, LEAD, now=on(moved + dt.timedelta(days=1)) - SECOND)["items"] == []
        # … and past the moved date it is overdue again.
        listing = overdue_cases(s, LEAD, now=on(moved + dt.timedelta(days=1)))
    assert _nos(listing) == [no]
    row = listing["items"][0]
    assert row["overdue_days"] == 1 and row["expected_completion_date"] == moved.isoformat()
    assert row["stage"] == "town_review"


def test_overdue_cases_longest_first_and_by_town(client, open_case, db):
    chibusu = open_case()["case_no"]
    nanxin = open_case(hukou_town="南新镇", hukou_village=None)["case_no"]
    with db() as s:
        today = today_local()
        s.execute(update(Case).where(Case.case_no == chibusu).values(expected_completion_date=today - dt.timedelta(days=2)))
        s.execute(update(Case).where(Case.case_no == nanxin).values(expected_completion_date=today - dt.timedelta(days=7)))
        s.commit()
        assert _nos(overdue_cases(s, LEAD)) == [nanxin, chibusu]
        assert [r["overdue_days"] for r in overdue_cases(s, LEAD)["items"]] == [7, 2]
        assert _nos(overdue_cases(s, LEAD, town="513223101")) == [nanxin]
        one = overdue_cases(s, LEAD, limit=1)
    assert one["total"] == 2 and _nos(one) == [nanxin]


# ---------------------------------------------------------------- 差评 follow-ups


def test_bad_ratings_are_listed_for_follow_up_with_days_left(client, login, open_case, db):
    good = _rated(client, login, open_case, "满意")
    bad = _rated(client, login, open_case, "非常不满意", "材料退回了两次")
    with db() as s:
        listing = followups_due(s, LEAD)
    assert _nos(listing) == [bad]  # 满意 opens no follow-up
    row = listing["items"][0]
    assert good not in str(listing)
    assert row["kind"] == "bad_rating" and row["task_id"]
    assert row["rating"] == {"level": 1, "level_text": "非常不满意", "comment": "材料退回了两次"}
    assert row["town"]["name"] == "赤不苏镇" and row["applicant"]["name"] == "杨*妹"
    assert row["stage"] == "rated"
    due = dt.date.fromisoformat(row["due_date"])
    assert row["days_left"] == (due - today_local()).days > 0 and row["overdue_days"] == 0
    with db() as s:
        on_the_day = followups_due(s, LEAD, now=on(due))["items"][0]
        late = followups_due(s, LEAD, now=on(due + dt.timedelta(days=3)))["items"][0]
    assert (on_the_day["days_left"], on_the_day["overdue_days"]) == (0, 0)
    assert (late["days_left"], late["overdue_days"]) == (-3, 3)


def test_recording_a_follow_up_needs_an_outcome_then_closes_it(client, login, open_case, db):
    no = _rated(client, login, open_case, "不满意", "等太久")
    lead = login("lead-2")
    listed = client.get("/api/v1/lead/followups", headers=lead).json()
    task_id = listed["items"][0]["task_id"]
    for empty in ("", "   \n"):
        r = client.post(f"/api/v1/followup-tasks/{task_id}/complete", json={"outcome": empty}, headers=lead)
        assert r.status_code == 422
        assert r.json()["error"] == {"code": "outcome_required", "message": "请填写回访结果", "field": "outcome"}
    assert _nos(client.get("/api/v1/lead/followups", headers=lead).json()) == [no]  # still open

    r = client.post(f"/api/v1/followup-tasks/{task_id}/complete", json={"outcome": "已电话回访，向群众说明原因并致歉"},
                    headers=lead)
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert client.get("/api/v1/lead/followups", headers=lead).json()["items"] == []
    assert client.get(f"/api/v1/cases/{no}", headers=lead).json()["stage"] == "followed_up"
    events = client.get(f"/api/v1/cases/{no}/events", headers=lead).json()["items"]
    assert any(e["note"] == "回访：已电话回访，向群众说明原因并致歉" and e["actor"] == "staff:lead-2" for e in events)


# ---------------------------------------------------------------- HTTP, roles, the page


LISTS = ["/api/v1/lead/overdue-deferrals", "/api/v1/lead/overdue-cases", "/api/v1/lead/followups"]


@pytest.mark.parametrize("path", LISTS)
def test_only_duty_leads_and_admins_see_the_lists(client, login, path):
    for username in ("lead-1", "admin"):
        r = client.get(path, headers=login(username))
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"today", "total", "items", "next_offset"}
    for username in ("agent-chibusu-1", "reviewer-chibusu"):
        r = client.get(path, headers=login(username))
        assert r.status_code == 403
        assert r.json()["error"]["message"] == "只有轮值组长和县级管理员可以查看督办清单"
    assert client.get(path, headers=SERVICE).status_code == 403
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", LISTS)
def test_bad_filters_are_refused_in_chinese(client, login, path):
    lead = login("lead-1")
    r = client.get(path, params={"town": "999"}, headers=lead)
    assert r.status_code == 422 and r.json()["error"]["field"] == "town" and "999" in r.json()["error"]["message"]
    r = client.get(path, params={"limit": 0}, headers=lead)
    assert r.status_code == 422 and r.json()["error"]["field"] == "limit"


def test_unknown_follow_up_kind_is_refused(client, login):
    r = client.get("/api/v1/lead/followups", params={"kind": "whatever"}, headers=login("lead-1"))
    assert r.status_code == 422 and "差评回访" in r.json()["error"]["message"]


def test_the_lists_over_http_use_the_county_s_today(client, login, open_case, db):
    case, deferral = _deferral(client, login, open_case)
    late = open_case()["case_no"]
    today = today_local()
    with db() as s:
        s.execute(update(Deferral).where(Deferral.form_no == deferral["form_no"]).values(deadline=today - dt.timedelta(days=4)))
        s.execute(update(Case).where(Case.case_no == late).values(expected_completion_date=today - dt.timedelta(days=3)))
        s.commit()
    lead = login("lead-1")
    deferrals = client.get("/api/v1/lead/overdue-deferrals", headers=lead).json()
    assert deferrals["today"] == today.isoformat()
    assert [(r["case_no"], r["overdue_days"]) for r in deferrals["items"]] == [(case["case_no"], 4)]
    cases = client.get("/api/v1/lead/overdue-cases", headers=lead).json()
    assert [(r["case_no"], r["overdue_days"]) for r in cases["items"]] == [(late, 3)]


def _sign_in(client, username: str):
    form = client.get("/staff/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/staff/login", data={"username": username, "password": "erma-demo-2026", "next": "", "csrf": csrf},
                       follow_redirects=False)


def test_a_duty_lead_lands_on_the_lead_page(client):
    r = client.get("/staff/lead", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login?next=%2Fstaff%2Flead")
    r = _sign_in(client, "lead-1")
    assert r.status_code == 303 and r.headers["location"] == "/staff/lead"
    assert client.get("/staff/", follow_redirects=False).headers["location"] == "/staff/lead"
    page = client.get("/staff/lead")
    assert page.status_code == 200
    assert "督办与回访" in page.text and "/staff/static/lead.js" in page.text and "李红梅" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_other_roles_get_the_no_access_page(client):
    assert _sign_in(client, "agent-chibusu-1").status_code == 303
    r = client.get("/staff/lead")
    assert r.status_code == 403 and "没有权限" in r.text
