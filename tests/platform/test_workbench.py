"""The agent workbench's API: my cases and my towns' unassigned cases, taking (认领) a case, the duty
lead reassigning or releasing one, and what the workbench may offer for a case."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from erma.cases.assignment import take_case
from erma.cases.models import Case, CaseEvent
from erma.errors import Conflict
from erma.staff.auth import Principal
from erma.staff.models import Staff
from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE

DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴, deferrable


def _staff_id(db, username: str) -> int:
    with db() as s:
        return s.scalar(select(Staff.id).where(Staff.username == username))


def _release(client, login, no: str) -> None:
    r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": None}, headers=login("lead-1"))
    assert r.status_code == 200, r.text
    assert r.json()["agent"] is None


def _unassigned(client, login, open_case, **overrides) -> str:
    no = open_case(**overrides)["case_no"]
    _release(client, login, no)
    return no


def _listed(client, headers, **params) -> list[str]:
    r = client.get("/api/v1/cases", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [c["case_no"] for c in r.json()["items"]]


def _take(client, headers, no, body=None):
    return client.post(f"/api/v1/cases/{no}/assignment", json=body or {}, headers=headers)


def _events(db, no, kind="assigned") -> list[CaseEvent]:
    with db() as s:
        return s.scalars(select(CaseEvent).join(Case).where(Case.case_no == no, CaseEvent.kind == kind)
                         .order_by(CaseEvent.id)).all()


# ---------------------------------------------------------------- lists

def test_my_cases_and_my_towns_unassigned_cases(client, login, open_case):
    mine = open_case()["case_no"]  # intake gives it to the least-loaded agent: agent-chibusu-1 (lower id)
    waiting = _unassigned(client, login, open_case)
    other_town = _unassigned(client, login, open_case, hukou_town="土门镇", hukou_village=None)
    one, two, tumen = login("agent-chibusu-1"), login("agent-chibusu-2"), login("agent-tumen-1")

    assert _listed(client, one, assigned="me") == [mine]
    assert _listed(client, two, assigned="me") == []
    assert _listed(client, one, assigned="none") == [waiting]  # only the agent's own town
    assert _listed(client, two, assigned="none") == [waiting]
    assert _listed(client, tumen, assigned="none") == [other_town]
    # The duty lead sees the whole county's unassigned cases.
    assert set(_listed(client, login("lead-1"), assigned="none")) == {waiting, other_town}


def test_open_filter_and_orders(client, login, open_case):
    first = open_case()["case_no"]
    second = open_case(service_code="MX-013")["case_no"]
    ended = open_case()["case_no"]
    assert client.post(f"/api/v1/cases/{ended}/transitions", json={"to": "withdrawn"}, headers=SERVICE).status_code == 200
    agent = login("agent-chibusu-1")
    mine = set(_listed(client, agent, assigned="me"))
    assert _listed(client, agent, assigned="me", open="true", order="oldest") == [
        no for no in (first, second) if no in mine]
    assert ended in _listed(client, agent, open="false")
    assert ended not in _listed(client, agent, open="true")
    assert _listed(client, agent, order="newest")[:3] == [ended, second, first]
    by_due = client.get("/api/v1/cases", params={"order": "due"}, headers=agent).json()["items"]
    dates = [c["expected_completion_date"] for c in by_due]
    assert dates == sorted(dates)


def test_bad_filters_are_refused_in_chinese(client, login):
    agent = login("agent-chibusu-1")
    r = client.get("/api/v1/cases", params={"assigned": "everyone"}, headers=agent)
    assert r.status_code == 422 and r.json()["error"]["field"] == "assigned"
    r = client.get("/api/v1/cases", params={"order": "random"}, headers=agent)
    assert r.status_code == 422 and "排序" in r.json()["error"]["message"]


def test_masked_asks_for_less_even_for_an_agent(client, login, open_case):
    no = open_case()["case_no"]
    agent = login("agent-chibusu-1")
    full = client.get(f"/api/v1/cases/{no}", headers=agent).json()
    assert full["id_number"] == VALID_ID and full["phone"] == VALID_PHONE
    masked = client.get(f"/api/v1/cases/{no}", params={"masked": "true"}, headers=agent).json()
    assert masked["id_number"] != VALID_ID and masked["id_number"].endswith(VALID_ID[-4:]) and "*" in masked["id_number"]
    assert masked["phone"] == "138****5678"
    listed = client.get("/api/v1/cases", params={"masked": "true"}, headers=agent).json()["items"]
    assert [c["phone"] for c in listed if c["case_no"] == no] == ["138****5678"]
    assert VALID_ID not in str(listed)


# ---------------------------------------------------------------- taking

def test_an_agent_takes_an_unassigned_case_once(client, login, open_case, db):
    no = _unassigned(client, login, open_case)
    two = login("agent-chibusu-2")
    r = _take(client, two, no)
    assert r.status_code == 200, r.text
    assert r.json()["agent"]["name"] == "杨秀珍" and r.json()["agent"]["credential_no"] == "茂代字2026-020"
    assert _listed(client, two, assigned="me") == [no]
    assert no not in _listed(client, two, assigned="none")
    # A second tap by the same agent changes nothing (no second record).
    assert _take(client, two, no).status_code == 200
    notes = [e.note for e in _events(db, no)]
    assert notes[-2:] == ["退回本镇待认领", "代办员 杨秀珍（茂代字2026-020） 认领"]
    # Another agent of the town is told who has it.
    r = _take(client, login("agent-chibusu-1"), no)
    assert r.status_code == 409 and r.json()["error"]["code"] == "case_already_assigned"
    assert "杨秀珍" in r.json()["error"]["message"]


def test_taking_an_assigned_case_is_refused(client, login, open_case):
    no = open_case()["case_no"]  # agent-chibusu-1 has it from intake
    r = _take(client, login("agent-chibusu-2"), no)
    assert r.status_code == 409 and "余三郎" in r.json()["error"]["message"]


def test_only_agents_of_the_cases_town_may_take_it(client, login, open_case, db):
    no = _unassigned(client, login, open_case)
    assert _take(client, login("agent-tumen-1"), no).status_code == 404  # another town's case: not even seen
    r = _take(client, login("reviewer-chibusu"), no)
    assert r.status_code == 403 and r.json()["error"]["code"] == "take_forbidden"
    assert _take(client, SERVICE, no).status_code == 403
    # An agent cannot take a case for a colleague.
    r = _take(client, login("agent-chibusu-1"), no, {"agent_id": _staff_id(db, "agent-chibusu-2")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "take_for_others"
    assert client.get(f"/api/v1/cases/{no}", headers=login("lead-1")).json()["agent"] is None


def test_an_ended_case_is_not_taken(client, login, open_case):
    no = _unassigned(client, login, open_case)
    client.post(f"/api/v1/cases/{no}/transitions", json={"to": "withdrawn"}, headers=SERVICE)
    r = _take(client, login("agent-chibusu-1"), no)
    assert r.status_code == 409 and r.json()["error"]["code"] == "case_ended"


def test_two_agents_racing_only_one_wins(client, login, open_case, db):
    """Both agents' requests read the case while it was unassigned; the conditional UPDATE lets one win."""
    no = _unassigned(client, login, open_case)
    with db() as s:
        agents = {u: s.scalar(select(Staff).where(Staff.username == u)) for u in ("agent-chibusu-1", "agent-chibusu-2")}
    principals = {u: Principal(role="agent", staff=a, towns=frozenset(a.town_codes)) for u, a in agents.items()}
    with db() as first, db() as second:
        # (One transaction at a time: SQLite's BEGIN IMMEDIATE would make the second wait for the first.)
        case_1 = first.scalar(select(Case).where(Case.case_no == no))
        first.commit()
        case_2 = second.scalar(select(Case).where(Case.case_no == no))
        second.commit()  # second's copy will still say "unassigned" after the first agent has taken it
        assert take_case(first, case_1, principals["agent-chibusu-1"]) is True
        first.commit()
        assert case_2.agent_id is None
        with pytest.raises(Conflict) as lost:
            take_case(second, case_2, principals["agent-chibusu-2"])
        second.rollback()
    assert "余三郎" in lost.value.message
    with db() as s:
        assert s.scalar(select(Case.agent_id).where(Case.case_no == no)) == agents["agent-chibusu-1"].id
    assert [e.actor for e in _events(db, no) if e.actor_role == "agent"] == ["staff:agent-chibusu-1"]


# ---------------------------------------------------------------- reassigning

def test_duty_lead_reassigns_within_the_town_or_releases(client, login, open_case, db):
    no = open_case()["case_no"]
    lead = login("lead-1")
    r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": _staff_id(db, "agent-tumen-1")}, headers=lead)
    assert r.status_code == 422 and r.json()["error"]["field"] == "agent_id"
    r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": _staff_id(db, "reviewer-chibusu")}, headers=lead)
    assert r.status_code == 422 and r.json()["error"]["code"] == "agent_unknown"
    r = client.post(f"/api/v1/cases/{no}/assignment", json={}, headers=lead)
    assert r.status_code == 422 and r.json()["error"]["code"] == "agent_required"
    r = client.post(f"/api/v1/cases/{no}/assignment", headers=lead,
                    json={"agent_id": _staff_id(db, "agent-chibusu-2"), "note": "余三郎休假"})
    assert r.status_code == 200 and r.json()["agent"]["name"] == "杨秀珍"
    assert _events(db, no)[-1].note == "改派代办员 杨秀珍（茂代字2026-020）：余三郎休假"
    assert _events(db, no)[-1].actor == "staff:lead-1"
    assert _listed(client, login("agent-chibusu-2"), assigned="me") == [no]
    _release(client, login, no)
    assert _listed(client, login("agent-chibusu-1"), assigned="none") == [no]


def test_an_agent_cannot_release_or_reassign(client, login, open_case):
    no = open_case()["case_no"]
    r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": None}, headers=login("agent-chibusu-1"))
    assert r.status_code == 403


# ---------------------------------------------------------------- what the workbench offers

def _actions(client, headers, no) -> dict:
    r = client.get(f"/api/v1/cases/{no}/actions", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_actions_follow_the_case_through_take_and_deferral(client, login, open_case):
    no = _unassigned(client, login, open_case, service_code="MX-013")
    agent, lead = login("agent-chibusu-1"), login("lead-1")
    a = _actions(client, agent, no)
    assert a["holder"] == "none" and a["can_take"] is True and a["can_record_visit"] is True
    assert a["deferral"]["can_open"] is False  # not approved yet
    assert _actions(client, lead, no)["can_take"] is False and _actions(client, lead, no)["can_reassign"] is True
    assert client.get(f"/api/v1/cases/{no}/actions", headers=login("agent-tumen-1")).status_code == 404
    assert client.get(f"/api/v1/cases/{no}/actions", headers=login("reviewer-chibusu")).status_code == 403

    _take(client, agent, no)
    assert client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"),
                       json={"decision": "approve"}).status_code == 200
    a = _actions(client, agent, no)
    assert a["holder"] == "me" and a["can_take"] is False
    assert _actions(client, login("agent-chibusu-2"), no)["holder"] == "other"
    assert a["deferral"]["can_open"] is True and DEFERRABLE in a["deferral"]["deferrable_materials"]
    assert "申请人居民身份证" not in a["deferral"]["deferrable_materials"]
    assert {t["to"] for t in a["transitions"]} == {"at_department"}  # 容缺 has its own flow

    assert client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=agent).status_code == 201
    d = _actions(client, agent, no)["deferral"]
    assert d == {"exists": True, "can_open": False, "deferrable_materials": [], "can_print": True,
                 "can_record_supplement": True, "can_record_reclaim": False}
    client.post(f"/api/v1/cases/{no}/deferral/supplement", json={}, headers=agent)
    d = _actions(client, agent, no)["deferral"]
    assert d["can_record_supplement"] is False and d["can_record_reclaim"] is True
    client.post(f"/api/v1/cases/{no}/deferral/reclaim", json={}, headers=agent)
    d = _actions(client, agent, no)["deferral"]
    assert d["can_record_reclaim"] is False and d["can_print"] is True
    assert client.get(f"/api/v1/cases/{no}/deferral", headers=agent).json()["status"] == "closed"


def test_completion_is_offered_with_its_result_required(client, login, open_case):
    no = open_case()["case_no"]
    agent = login("agent-chibusu-1")
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    a = _actions(client, agent, no)
    assert a["deferral"]["can_open"] is False  # MX-001 is not on the 容缺 list
    assert a["transitions"] == [{"to": "at_department", "text": "代办员已送部门办理", "note_required": False}]
    client.post(f"/api/v1/cases/{no}/transitions", json={"to": "at_department", "note": "已送县民政局"}, headers=agent)
    assert _actions(client, agent, no)["transitions"] == [{"to": "completed", "text": "已办结", "note_required": True}]
    r = client.post(f"/api/v1/cases/{no}/transitions", json={"to": "completed", "note": "  "}, headers=agent)
    assert r.status_code == 422 and r.json()["error"] == {"code": "result_required", "message": "办结时请写明办理结果",
                                                          "field": "note"}


# ---------------------------------------------------------------- the pages

def test_workbench_pages_need_sign_in_and_a_role_that_carries_cases(client, open_case):
    from tests.platform.test_staff_sign_in import csrf, sign_in, signed_in_client

    no = open_case()["case_no"]
    r = client.get(f"/staff/cases/{no}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/staff/login?next=%2Fstaff%2Fcases%2F{no}"
    # Agents still land on the inbox; its header links to the workbench.
    assert sign_in(client, "agent-chibusu-1").headers["location"] == "/staff/inbox"
    assert 'href="/staff/cases"' in client.get("/staff/inbox").text
    page = client.get("/staff/cases")
    assert page.status_code == 200 and "办件工作台" in page.text and "script-src 'self'" in page.headers["content-security-policy"]
    assert 'href="/staff/inbox"' in page.text
    case_page = client.get(f"/staff/cases/{no.lower()}")
    assert case_page.status_code == 200 and f'data-case-no="{no}"' in case_page.text
    assert '<a href="/staff/cases" class="wb-back">' in case_page.text
    # With the session cookie, a take needs the CSRF header.
    assert client.post(f"/api/v1/cases/{no}/assignment", json={}).status_code == 403
    r = client.post(f"/api/v1/cases/{no}/assignment", json={}, headers=csrf(client))
    assert r.status_code == 200  # already theirs from intake: nothing changes
    reviewer = signed_in_client(client, "reviewer-chibusu")
    assert reviewer.get("/staff/cases").status_code == 403
    assert reviewer.get(f"/staff/cases/{no}").status_code == 403
    # The duty lead came from the 督办 lists, and the case page leads back there.
    lead_page = signed_in_client(client, "lead-1").get(f"/staff/cases/{no}")
    assert lead_page.status_code == 200 and '<a href="/staff/lead" class="wb-back">‹ 督办</a>' in lead_page.text
