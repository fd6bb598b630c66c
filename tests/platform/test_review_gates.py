"""The gates of issue 13: the town approves only with every required material in; with only deferrable
materials missing on a 容缺-listed item it may 同意容缺 instead; the department stage and 已办结 need every
material or the case's 容缺 (its 一表一书). A deficiency notice's materials are missing until they arrive
again; the review file, the decisions offered and the status answer follow the records."""
from __future__ import annotations

from sqlalchemy import select, update

from erma.cases.models import Case
from erma.deferral.models import Deferral
from erma.review.models import ReviewOpinion
from tests.platform.conftest import SERVICE, VALID_ID, holder, required_materials

REVIEWER = "reviewer-chibusu"
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴, on the 容缺 list
MX001 = required_materials("MX-001")
MX013 = required_materials("MX-013")


def _without(materials: list[str], *names: str) -> list[str]:
    return [m for m in materials if m not in names]


def _file(client, login, no: str, who: str = REVIEWER) -> dict:
    r = client.get(f"/api/v1/cases/{no}/review", headers=login(who))
    assert r.status_code == 200, r.text
    return r.json()


def _decide(client, login, no: str, decision: str, **body):
    return client.post(f"/api/v1/cases/{no}/review", headers=login(REVIEWER), json={"decision": decision, **body})


def _move(client, login, no: str, to: str, note: str | None = None, who: str | None = None):
    return client.post(f"/api/v1/cases/{no}/transitions", headers=login(who or holder(no)),
                       json={"to": to, "note": note})


def test_approval_is_refused_while_a_non_deferrable_material_is_missing(client, login, open_case):
    no = open_case(materials_have=_without(MX001, "户口簿"))["case_no"]
    file = _file(client, login, no)
    assert [d["decision"] for d in file["decisions"]] == ["return", "reject"]
    assert "户口簿" in file["approve_blocked_reason"]
    assert file["core_gap"] == ["户口簿"] and file["deferrable_gap"] == []
    assert file["suggested_deficiencies"] == ["户口簿"]
    row = next(r for r in file["checklist"] if r["name"] == "户口簿")
    assert (row["status"], row["status_text"], row["can_defer"]) == ("missing", "✗ 缺", False)

    r = _decide(client, login, no, "approve")
    assert r.status_code == 409 and r.json()["error"]["code"] == "materials_missing"
    assert "户口簿" in r.json()["error"]["message"]
    # Not a 容缺 item: 同意容缺 is refused as well.
    r = _decide(client, login, no, "approve_deferral")
    assert r.status_code == 409 and r.json()["error"]["code"] == "deferral_item_not_listed"
    assert client.get(f"/api/v1/cases/{no}", headers=SERVICE).json()["stage"] == "town_review"


def test_with_all_materials_approve_is_offered_and_rongque_is_not(client, login, open_case):
    no = open_case(service_code="MX-013")["case_no"]
    file = _file(client, login, no)
    assert [d["decision"] for d in file["decisions"]] == ["approve", "return", "reject"]
    assert file["approve_blocked_reason"] is None and file["suggested_deficiencies"] == []
    r = _decide(client, login, no, "approve_deferral")
    assert r.status_code == 409 and r.json()["error"]["code"] == "deferral_nothing_missing"
    assert _decide(client, login, no, "approve").status_code == 200


def test_a_deferrable_gap_on_a_rongque_item_is_approved_as_rongque_and_the_deferral_takes_the_list(
        client, login, open_case, db):
    no = open_case(service_code="MX-013", materials_have=_without(MX013, DEFERRABLE))["case_no"]
    file = _file(client, login, no)
    assert file["decisions"][0] == {"decision": "approve_deferral", "text": f"同意容缺（后补：{DEFERRABLE}）"}
    assert "approve" not in [d["decision"] for d in file["decisions"]]
    assert file["deferrable_gap"] == [DEFERRABLE] and file["core_gap"] == []
    assert file["suggested_deficiencies"] == []  # the deficiency list does not ask for what may follow later
    row = next(r for r in file["checklist"] if r["name"] == DEFERRABLE)
    assert row["status"] == "missing" and row["can_defer"] is True

    r = _decide(client, login, no, "approve")
    assert r.status_code == 409 and r.json()["error"]["code"] == "materials_missing"
    assert "同意容缺" in r.json()["error"]["message"] and DEFERRABLE in r.json()["error"]["message"]

    r = _decide(client, login, no, "approve_deferral", opinion="请尽快补交")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "approved"
    assert r.json()["opinion"] == f"同意容缺（后补：{DEFERRABLE}）。请尽快补交"
    with db() as s:
        opinion = s.scalar(select(ReviewOpinion).join(Case, Case.id == ReviewOpinion.case_id)
                           .where(Case.case_no == no))
        assert (opinion.decision, opinion.deferred_materials) == ("approve_deferral", [DEFERRABLE])

    # The department stage waits for the 一表一书; opened without naming materials, it takes the reviewer's list.
    r = _move(client, login, no, "at_department")
    assert r.status_code == 409 and r.json()["error"]["code"] == "materials_missing"
    assert DEFERRABLE in r.json()["error"]["message"]
    r = client.post(f"/api/v1/cases/{no}/deferral", json={}, headers=login(holder(no)))
    assert r.status_code == 201, r.text
    assert r.json()["missing_materials"] == [DEFERRABLE]
    assert _move(client, login, no, "at_department").status_code == 200
    assert _move(client, login, no, "completed", "准予发放").status_code == 200


def test_rongque_is_refused_when_a_core_material_is_missing_too(client, login, open_case):
    no = open_case(service_code="MX-013", materials_have=_without(MX013, DEFERRABLE, "户口簿"))["case_no"]
    file = _file(client, login, no)
    assert [d["decision"] for d in file["decisions"]] == ["return", "reject"]
    assert file["core_gap"] == ["户口簿"] and file["deferrable_gap"] == [DEFERRABLE]
    assert file["suggested_deficiencies"] == ["户口簿"]
    r = _decide(client, login, no, "approve_deferral")
    assert r.status_code == 409 and r.json()["error"]["code"] == "materials_missing"
    assert "户口簿" in r.json()["error"]["message"]


def test_completion_is_refused_once_the_deferral_no_longer_covers_and_allowed_after_the_supplement(
        client, login, open_case, db):
    no = open_case(service_code="MX-013", materials_have=_without(MX013, DEFERRABLE))["case_no"]
    assert _decide(client, login, no, "approve_deferral").status_code == 200
    agent = login(holder(no))
    assert client.post(f"/api/v1/cases/{no}/deferral", json={}, headers=agent).status_code == 201
    assert _move(client, login, no, "at_department").status_code == 200
    # The deadline passed and the duty lead was told (erma/deferral/scheduled.py): no longer covered.
    with db() as s, s.begin():
        s.execute(update(Deferral).where(Deferral.case_id == select(Case.id).where(Case.case_no == no)
                                         .scalar_subquery()).values(status="overdue"))
    for who in (holder(no), "admin"):
        r = _move(client, login, no, "completed", "准予发放", who=who)
        assert r.status_code == 409 and r.json()["error"]["code"] == "materials_missing", who
        assert DEFERRABLE in r.json()["error"]["message"]
    r = client.post(f"/api/v1/cases/{no}/deferral/supplement", json={}, headers=agent)
    assert r.status_code == 200, r.text
    row = next(r for r in _file(client, login, no)["checklist"] if r["name"] == DEFERRABLE)
    assert row["status"] == "received" and [x["occasion_text"] for x in row["receipts"]] == ["容缺后补"]
    assert _move(client, login, no, "completed", "准予发放").status_code == 200


def test_a_deficiency_notice_makes_its_materials_missing_until_they_arrive_again(client, login, open_case):
    no = open_case()["case_no"]  # the resident said online they have everything
    file = _file(client, login, no)
    assert {r["status"] for r in file["checklist"] if r["required"]} == {"declared"}
    assert {r["status_text"] for r in file["checklist"] if r["required"]} == {"群众自述已有，待收取"}
    r = _decide(client, login, no, "return", opinion="户口簿页不清楚", deficiencies=["户口簿"])
    assert r.status_code == 200
    rows = {r["name"]: r for r in _file(client, login, no)["checklist"]}
    assert rows["户口簿"]["status"] == "missing"
    status = client.get(f"/api/v1/cases/{no}/status", params={"last4": VALID_ID[-4:]}).json()
    assert status["materials_missing"] == ["户口簿"]

    # The agent brings the household register back in person: the case returns to review, the row is ✓.
    agent = holder(no)
    r = client.post(f"/api/v1/cases/{no}/materials", headers=login(agent), json={
        "materials": [{"name": "户口簿", "form": "original"}], "occasion": "resubmission", "in_person": True})
    assert r.status_code == 200, r.text
    file = r.json()
    assert file["stage"] == "town_review"
    row = next(x for x in file["checklist"] if x["name"] == "户口簿")
    assert (row["status"], row["status_text"]) == ("received", "✓ 已收")
    last = row["receipts"][-1]
    assert (last["form_text"], last["occasion_text"], last["by"]) == ("原件", "补正", "余三郎")
    assert last["at"].endswith("+00:00")
    assert [v["purpose"] for v in file["visits"]] == ["supplement"]
    status = client.get(f"/api/v1/cases/{no}/status", params={"last4": VALID_ID[-4:]}).json()
    assert status["materials_missing"] == []
    assert _decide(client, login, no, "approve").status_code == 200


def test_a_resubmission_through_the_assistant_records_copies(client, login, open_case):
    no = open_case()["case_no"]
    _decide(client, login, no, "return", opinion="缺页", deficiencies=["户口簿", "申请人居民身份证"])
    r = client.post(f"/api/v1/cases/{no}/resubmit", json={"materials_have": ["户口簿"]}, headers=SERVICE)
    assert r.status_code == 200 and r.json()["materials_missing"] == ["申请人居民身份证"]
    rows = {x["name"]: x for x in _file(client, login, no)["checklist"]}
    assert rows["户口簿"]["status"] == "received"
    assert [(x["form"], x["place"], x["by"]) for x in rows["户口簿"]["receipts"]][-1] == ("copy", "线上", "群众/智能助手")
    assert rows["申请人居民身份证"]["status"] == "missing"
    assert _decide(client, login, no, "approve").status_code == 409


def test_materials_the_agent_collects_count_as_received_without_a_trip(client, login, open_case):
    no = open_case()["case_no"]
    assert _decide(client, login, no, "approve").status_code == 200
    r = client.post(f"/api/v1/cases/{no}/materials", headers=login(holder(no)),
                    json={"materials": [{"name": "户口簿", "form": "copy"}], "occasion": "collection"})
    assert r.status_code == 200 and r.json()["visits"] == []  # collected by the agent: no trip
    row = next(x for x in r.json()["checklist"] if x["name"] == "户口簿")
    assert row["status"] == "received" and row["receipts"][-1]["occasion_text"] == "代办员收取"
    assert _move(client, login, no, "at_department").status_code == 200
    assert _move(client, login, no, "completed", "准予发放").status_code == 200
