"""Applying again for an item the same applicant (ID number) already has open: the answer says so
(and names the open case to staff and to the conversation the case is bound to, never to another
one: anybody may type somebody else's ID number); a new case is opened only when asked again with
`repeat_confirmed`."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from erma.cases.models import Case
from tests.platform.conftest import SERVICE, case_body


def _count(db) -> int:
    with db() as s:
        return s.scalar(select(func.count(Case.id)))


def _post(client, key: str, **overrides):
    return client.post("/api/v1/cases", json=case_body(repeat_confirmed=False, **overrides),
                       headers={**SERVICE, "Idempotency-Key": key})


def test_an_open_case_for_the_same_id_and_item_is_named_to_its_own_conversation_and_nothing_is_opened(client, db):
    first = _post(client, "repeat-1", service_code="MX-013")
    assert first.status_code == 201, first.text
    again = _post(client, "repeat-2", service_code="MX-013", phone="13900001111")  # the same conversation
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["code"] == "open_case_exists"
    assert error["open_case"]["case_no"] == first.json()["case_no"]
    assert error["open_case"]["stage_text"] and re.search(r"[\u4e00-\u9fff]", error["message"])
    assert first.json()["case_no"] in error["message"]
    assert _count(db) == 1

    confirmed = client.post("/api/v1/cases", json=case_body(service_code="MX-013", repeat_confirmed=True),
                            headers={**SERVICE, "Idempotency-Key": "repeat-2"})
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["case_no"] != first.json()["case_no"]
    assert _count(db) == 2


def test_another_item_or_another_applicant_is_no_repeat(client, db):
    assert _post(client, "other-1", service_code="MX-013").status_code == 201
    assert _post(client, "other-2", service_code="MX-001").status_code == 201
    assert _post(client, "other-3", service_code="MX-013", id_number="51322319550421643X").status_code == 201
    assert _count(db) == 3


def test_a_finished_or_withdrawn_case_does_not_block_a_new_one(client, db):
    first = _post(client, "done-1", service_code="MX-013")
    assert first.status_code == 201
    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == first.json()["case_no"]))
        case.stage = "withdrawn"
        s.commit()
    assert _post(client, "done-2", service_code="MX-013").status_code == 201


def test_another_conversation_typing_the_same_id_number_learns_no_case_number_or_stage(client, db):
    first = _post(client, "stranger-1", service_code="MX-013")
    assert first.status_code == 201, first.text
    again = _post(client, "stranger-2", service_code="MX-013", conversation_id="conv-stranger", phone="13900001111")
    assert again.status_code == 409, again.text
    error = again.json()["error"]
    assert error["code"] == "open_case_exists" and error["open_case"] == {"service_name": error["open_case"]["service_name"]}
    assert first.json()["case_no"] not in again.text and "审核" not in error["message"]
    assert "查进度" in error["message"]
    assert _count(db) == 1


def test_staff_are_told_which_case_is_open(client, db, login):
    first = _post(client, "staff-1", service_code="MX-013")
    assert first.status_code == 201, first.text
    body = case_body(repeat_confirmed=False, service_code="MX-013", conversation_id=None)
    again = client.post("/api/v1/cases", json=body, headers={**login("clerk-weimen"), "Idempotency-Key": "staff-2"})
    assert again.status_code == 409, again.text
    assert again.json()["error"]["open_case"]["case_no"] == first.json()["case_no"]
