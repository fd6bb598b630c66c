"""The case lifecycle: every allowed transition happens through its flow; forbidden ones get 409."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from erma.cases.models import Case, CaseEvent
from tests.platform.conftest import SERVICE


def _events(db, case_no):
    with db() as s:
        return s.scalars(select(CaseEvent).join(Case).where(Case.case_no == case_no).order_by(CaseEvent.id)).all()


def _move(client, headers, case_no, to, note=None):
    return client.post(f"/api/v1/cases/{case_no}/transitions", json={"to": to, "note": note}, headers=headers)


def test_full_path_to_rated(client, login, open_case, db):
    """received → town_review → approved → at_department → completed → delivered → rated
    (rated → followed_up runs through the duty lead's task: test_status_and_ratings.py)."""
    no = open_case()["case_no"]
    reviewer, agent, lead = login("reviewer-chibusu"), login("agent-chibusu-1"), login("lead-1")
    assert client.post(f"/api/v1/cases/{no}/review", json={"decision": "approve"}, headers=reviewer).json()["stage"] == "approved"
    assert _move(client, agent, no, "at_department", "已送县民政局").json()["stage"] == "at_department"
    assert _move(client, agent, no, "completed", "准予低保，每月发放").json()["stage"] == "completed"
    assert _move(client, agent, no, "delivered", "已电话告知").json()["stage"] == "delivered"
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": "非常满意", "conversation_id": "conv-1"}, headers=SERVICE)
    assert r.json()["level"] == 5 and r.json()["follow_up"] is False
    events = _events(db, no)
    path = [(e.from_stage, e.to_stage) for e in events if e.kind == "transition"]
    assert path == [(None, "received"), ("received", "town_review"), ("town_review", "approved"),
                    ("approved", "at_department"), ("at_department", "completed"),
                    ("completed", "delivered"), ("delivered", "rated")]
    for e in events:
        assert e.actor and e.at is not None
    assert [e.actor for e in events if e.to_stage == "approved"] == ["staff:reviewer-chibusu"]
    assert client.get(f"/api/v1/cases/{no}", headers=lead).json()["stage"] == "rated"


def test_return_then_resubmit_then_reject(client, login, open_case):
    no = open_case()["case_no"]
    reviewer = login("reviewer-chibusu")
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer,
                    json={"decision": "return", "opinion": "缺户口簿", "deficiencies": ["户口簿"]})
    assert r.json()["stage"] == "returned_for_correction"
    r = client.post(f"/api/v1/cases/{no}/resubmit", json={"materials_have": ["户口簿"]}, headers=SERVICE)
    assert r.json()["stage"] == "town_review"
    assert "户口簿" not in r.json()["materials_missing"]
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json={"decision": "reject", "opinion": "不符合条件"})
    assert r.json()["stage"] == "rejected"


def test_withdrawal_by_the_resident(client, open_case):
    no = open_case()["case_no"]
    assert _move(client, SERVICE, no, "withdrawn", "群众不办了").json()["stage"] == "withdrawn"


@pytest.mark.parametrize("to", ["completed", "at_department", "delivered", "followed_up", "received"])
def test_forbidden_moves_from_town_review_get_409_with_reason(client, login, open_case, to):
    no = open_case()["case_no"]
    r = _move(client, login("admin"), no, to, "试图跳过")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] in ("transition_not_allowed", "transition_needs_flow")
    assert "不能" in err["message"] or "须" in err["message"]
    assert client.get(f"/api/v1/cases/{no}", headers=SERVICE).json()["stage"] == "town_review"


def test_terminal_stages_cannot_move(client, login, open_case):
    no = open_case()["case_no"]
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "reject", "opinion": "不符合"})
    r = _move(client, login("admin"), no, "town_review")
    assert r.status_code == 409


def test_review_decisions_need_the_review_flow(client, login, open_case):
    no = open_case()["case_no"]
    r = _move(client, login("reviewer-chibusu"), no, "approved")
    assert r.status_code == 409 and r.json()["error"]["code"] == "transition_needs_flow"


def test_wrong_role_gets_403(client, login, open_case):
    no = open_case()["case_no"]
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    r = _move(client, login("reviewer-chibusu"), no, "at_department")
    assert r.status_code == 403


def test_completion_needs_a_result(client, login, open_case):
    no = open_case()["case_no"]
    agent = login("agent-chibusu-1")
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    _move(client, agent, no, "at_department")
    r = _move(client, agent, no, "completed", "")
    assert r.status_code == 422 and r.json()["error"]["field"] == "note"


def test_unknown_stage_is_422(client, login, open_case):
    r = _move(client, login("admin"), open_case()["case_no"], "teleported")
    assert r.status_code == 422


def test_only_the_agent_holding_the_case_moves_it(client, login, open_case, db):
    """The attack: an agent who does not hold a case moved a colleague's case to completed."""
    from erma.staff.models import Staff
    from tests.platform.conftest import holder

    no = open_case()["case_no"]
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    mine = holder(no)
    colleague = {"agent-chibusu-1": "agent-chibusu-2", "agent-chibusu-2": "agent-chibusu-1"}[mine]
    assert _move(client, login(mine), no, "at_department").status_code == 200
    r = _move(client, login(colleague), no, "completed", "准予")
    assert r.status_code == 403 and r.json()["error"]["code"] == "transition_forbidden"
    assert "不在您名下" in r.json()["error"]["message"]
    assert client.get(f"/api/v1/cases/{no}/actions", headers=login(colleague)).json()["transitions"] == []
    assert [t["to"] for t in client.get(f"/api/v1/cases/{no}/actions", headers=login(mine)).json()["transitions"]] == ["completed"]
    assert _move(client, login("lead-1"), no, "completed", "准予").status_code == 403  # the table: agent or admin
    assert client.get(f"/api/v1/cases/{no}", headers=login("admin")).json()["stage"] == "at_department"

    with db() as s:
        colleague_id = s.scalar(select(Staff.id).where(Staff.username == colleague))
    r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": colleague_id, "note": "改派"},
                    headers=login("lead-1"))
    assert r.status_code == 200, r.text
    assert _move(client, login(mine), no, "completed", "准予").status_code == 403  # no longer theirs
    assert _move(client, login(colleague), no, "completed", "准予").status_code == 200
