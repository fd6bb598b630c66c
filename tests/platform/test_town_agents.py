"""A town's agents for the duty lead choosing whom to reassign (改派) a case to: who may list them,
each agent's open cases, deactivated agents left out, other towns refused in Chinese."""
from __future__ import annotations

from sqlalchemy import select, update

from erma.staff.models import Staff
from tests.platform.conftest import SERVICE

CHIBUSU, TUMEN, FENGYI = "513223114", "513223107", "513223100"


def _ids(db) -> dict[str, int]:
    with db() as s:
        return dict(s.execute(select(Staff.username, Staff.id)).all())


def _agents(client, headers, town: str = CHIBUSU):
    return client.get(f"/api/v1/towns/{town}/agents", headers=headers)


def _reassign(client, login, no: str, agent_id: int | None) -> None:
    r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": agent_id}, headers=login("lead-1"))
    assert r.status_code == 200, r.text


def test_the_duty_lead_sees_each_agent_s_open_cases_least_loaded_first(client, login, open_case, db):
    ids = _ids(db)
    one, two = ids["agent-chibusu-1"], ids["agent-chibusu-2"]
    cases = [open_case()["case_no"] for _ in range(4)]
    for no, agent in zip(cases, (one, one, one, two)):
        _reassign(client, login, no, agent)
    # Ended cases are no longer carried; another town's cases are not 赤不苏镇's agents'.
    assert client.post(f"/api/v1/cases/{cases[0]}/transitions", json={"to": "withdrawn"},
                       headers=SERVICE).status_code == 200
    open_case(hukou_town="土门镇", hukou_village=None)

    r = _agents(client, login("lead-1"))
    assert r.status_code == 200, r.text
    assert r.json() == {"town": {"code": CHIBUSU, "name": "赤不苏镇"}, "items": [
        {"id": two, "display_name": "杨秀珍", "credential_no": "茂代字2026-020", "open_cases": 1},
        {"id": one, "display_name": "余三郎", "credential_no": "茂代字2026-019", "open_cases": 2}]}
    # No phone numbers, masked or not.
    assert "1390837" not in r.text and "phone" not in r.text

    # Released to the town's unassigned cases: nobody holds it.
    _reassign(client, login, cases[1], None)
    counts = {a["display_name"]: a["open_cases"] for a in _agents(client, login("admin")).json()["items"]}
    assert counts == {"余三郎": 1, "杨秀珍": 1}


def test_every_agent_listed_is_one_the_case_may_be_reassigned_to(client, login, open_case):
    no = open_case()["case_no"]
    lead = login("lead-1")
    for agent in _agents(client, lead).json()["items"]:
        r = client.post(f"/api/v1/cases/{no}/assignment", json={"agent_id": agent["id"]}, headers=lead)
        assert r.status_code == 200 and r.json()["agent"]["credential_no"] == agent["credential_no"]


def test_a_deactivated_agent_is_not_offered(client, login, open_case, db):
    ids = _ids(db)
    no = open_case()["case_no"]
    _reassign(client, login, no, ids["agent-chibusu-2"])
    with db() as s, s.begin():
        s.execute(update(Staff).where(Staff.username == "agent-chibusu-2").values(active=False))
    try:
        r = _agents(client, login("lead-1"))
        assert r.status_code == 200
        assert [a["display_name"] for a in r.json()["items"]] == ["余三郎"]
    finally:
        with db() as s, s.begin():
            s.execute(update(Staff).where(Staff.username == "agent-chibusu-2").values(active=True))


def test_a_town_without_agents_lists_none(client, login):
    r = _agents(client, login("lead-1"), FENGYI)  # 凤仪镇: residents go to the county point's windows
    assert r.status_code == 200 and r.json() == {"town": {"code": FENGYI, "name": "凤仪镇"}, "items": []}


def test_who_may_list_a_town_s_agents(client, login):
    assert _agents(client, login("admin"), TUMEN).status_code == 200
    assert _agents(client, login("lead-2"), TUMEN).status_code == 200
    # An agent sees the colleagues of their own town, and no other town's.
    mine = _agents(client, login("agent-chibusu-1"))
    assert mine.status_code == 200 and len(mine.json()["items"]) == 2
    r = _agents(client, login("agent-chibusu-1"), TUMEN)
    assert r.status_code == 403 and r.json()["error"] == {"code": "town_forbidden", "message": "您只能查看本镇的代办员"}
    # Reviewers and the assistant have no use for it.
    r = _agents(client, login("reviewer-chibusu"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "role_forbidden"
    assert "代办员" in r.json()["error"]["message"]
    assert _agents(client, SERVICE).status_code == 403
    r = _agents(client, {})
    assert r.status_code == 401 and r.json()["error"]["message"] == "请先登录"


def test_an_unknown_town_is_not_found(client, login):
    r = _agents(client, login("lead-1"), "999999999")
    assert r.status_code == 404
    assert r.json()["error"] == {"code": "town_not_found", "message": "没有编码为“999999999”的镇"}
