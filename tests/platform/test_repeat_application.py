"""Applying again for an item the same applicant (ID number) already has open: the answer names the
open case; a new case is opened only when asked again with `repeat_confirmed`."""
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


def test_an_open_case_for_the_same_id_and_item_is_named_and_nothing_is_opened(client, db):
    first = _post(client, "repeat-1", service_code="MX-013")
    assert first.status_code == 201, first.text
    again = _post(client, "repeat-2", service_code="MX-013", conversation_id="conv-2", phone="13900001111")
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
