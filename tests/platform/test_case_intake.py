"""Opening cases: every validation error, idempotency, routing by household town, assignment."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from erma.cases.models import Case, CaseEvent
from tests.platform.conftest import SERVICE, case_body


def _count_cases(db) -> int:
    with db() as s:
        return s.scalar(select(func.count(Case.id)))


@pytest.mark.parametrize("field,value,code", [
    ("id_number", "513223198001010012", "id_number_checksum"),
    ("id_number", "513223198002300016", "id_number_birth_date"),
    ("id_number", "5132231980", "id_number_format"),
    ("phone", "1381234567", "phone_invalid"),
    ("phone", "0837-1234567", "phone_landline"),
    ("service_code", "MX-999", "service_unknown"),
    ("hukou_town", "火星镇", "hukou_town_unknown"),
    ("applicant_name", "1", "applicant_name_invalid"),
    ("intake_point", "nowhere", "intake_point_unknown"),
    ("channel", "fax", "channel_unknown"),
    ("materials_have", ["火星护照"], "material_unknown"),
])
def test_each_bad_field_gets_422_naming_it_and_nothing_is_written(client, db, field, value, code):
    r = client.post("/api/v1/cases", json=case_body(**{field: value}), headers={**SERVICE, "Idempotency-Key": f"bad-{field}"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert err["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", err["message"]), "message must be Chinese"
    assert _count_cases(db) == 0


def test_every_bad_field_is_listed_at_once(client, db):
    r = client.post("/api/v1/cases", headers=SERVICE,
                    json=case_body(id_number="513223198001010012", phone="12345", hukou_town="火星镇"))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["error"]["errors"]}
    assert fields == {"id_number", "phone", "hukou_town"}
    assert _count_cases(db) == 0


def test_village_of_another_town_is_rejected(client, db):
    r = client.post("/api/v1/cases", headers=SERVICE, json=case_body(hukou_town="土门镇", hukou_village="雅都村"))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "hukou_village_mismatch"
    assert _count_cases(db) == 0


def test_missing_required_field_is_named_in_chinese(client):
    body = case_body()
    del body["id_number"]
    r = client.post("/api/v1/cases", headers=SERVICE, json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "id_number"
    assert "身份证号码" in r.json()["error"]["message"]


def test_same_idempotency_key_returns_the_same_case(client, db):
    headers = {**SERVICE, "Idempotency-Key": "conv-1:turn-7"}
    first = client.post("/api/v1/cases", json=case_body(), headers=headers)
    second = client.post("/api/v1/cases", json=case_body(), headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["case_no"] == second.json()["case_no"]
    assert _count_cases(db) == 1


def test_reusing_a_key_for_a_different_request_is_refused(client, db):
    headers = {**SERVICE, "Idempotency-Key": "conv-1:turn-8"}
    assert client.post("/api/v1/cases", json=case_body(), headers=headers).status_code == 201
    r = client.post("/api/v1/cases", json=case_body(service_code="MX-005"), headers=headers)
    assert r.status_code == 409
    assert _count_cases(db) == 1


def test_case_numbers_are_readable_unique_and_sequential(open_case):
    numbers = [open_case()["case_no"] for _ in range(3)]
    assert all(re.fullmatch(r"EM-\d{8}-\d{4}", n) for n in numbers)
    assert len(set(numbers)) == 3
    assert [int(n[-4:]) for n in numbers] == [1, 2, 3]


@pytest.mark.parametrize("intake_point", ["online", "county:window:513223114", "town:513223107",
                                          "village:513223113:刁林村", "town:513223111:永和"])
def test_routed_to_household_town_whatever_the_intake_point(client, login, intake_point):
    r = client.post("/api/v1/cases", headers={**SERVICE, "Idempotency-Key": f"route-{abs(hash(intake_point))}"},
                    json=case_body(intake_point=intake_point, channel="counter" if intake_point != "online" else "web_chat"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["hukou_town"]["name"] == "赤不苏镇"
    assert case["intake_point"]["code"] == intake_point
    assert case["stage"] == "town_review"
    queue = client.get("/api/v1/towns/513223114/review-queue", headers=login("reviewer-chibusu")).json()["items"]
    assert [c["case_no"] for c in queue] == [case["case_no"]]


@pytest.mark.parametrize("town,village,expected", [
    ("永和乡", None, "渭门镇"), ("东兴", None, "土门镇"), ("飞虹乡", None, "沟口镇"),
    ("雅都村", None, "赤不苏镇"), ("刁林村", None, "沟口镇"), ("茂县赤不苏镇雅都村", None, "赤不苏镇"),
    ("赤不蘇鎮", None, "赤不苏镇"), ("土门", "竹包村", "土门镇"),
])
def test_aliases_and_villages_resolve_to_the_current_town(client, town, village, expected):
    r = client.post("/api/v1/cases", headers={**SERVICE, "Idempotency-Key": f"alias-{abs(hash(town))}"},
                    json=case_body(hukou_town=town, hukou_village=village))
    assert r.status_code == 201, r.text
    assert r.json()["hukou_town"]["name"] == expected


def test_assigned_to_the_least_loaded_agent_of_the_household_town(open_case):
    agents = [open_case()["agent"]["credential_no"] for _ in range(4)]
    assert len(set(agents)) == 2, "two 赤不苏镇 agents share the work"
    assert agents[0] != agents[1] and agents[2] != agents[3]


def test_the_resident_gets_the_agent_name_and_credential(open_case):
    agent = open_case()["agent"]
    assert agent["name"] and agent["credential_no"].startswith("茂代字")
    assert re.fullmatch(r"1\d{10}", agent["phone"])


def test_missing_materials_are_computed_from_the_item_list(client, open_case):
    item = client.get("/api/v1/services/MX-001").json()
    required = [m["name"] for m in item["materials"] if m["required"]]
    case = open_case(materials_have=required[:2])
    assert case["materials_missing"] == required[2:]


def test_history_records_intake_routing_and_assignment(client, open_case, db):
    case = open_case(intake_point="county:window:513223114", channel="counter")
    with db() as s:
        events = s.scalars(select(CaseEvent).join(Case).where(Case.case_no == case["case_no"])
                           .order_by(CaseEvent.id)).all()
    assert [(e.from_stage, e.to_stage) for e in events if e.kind == "transition"] == [
        (None, "received"), ("received", "town_review")]
    assert "赤不苏镇窗口" in events[0].note and "窗口" in events[0].note
    assert any(e.kind == "assigned" for e in events)
    assert case["visits"] == 1  # taken in at a counter: one trip


def test_online_intake_counts_no_visit(open_case):
    assert open_case()["visits"] == 0


def test_visits_are_counted(client, login, open_case):
    case = open_case()
    agent = login("agent-chibusu-1")
    for expected in (1, 2):
        r = client.post(f"/api/v1/cases/{case['case_no']}/visits", json={"note": "到窗口交原件"}, headers=agent)
        assert r.json()["visits"] == expected
