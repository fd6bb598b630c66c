"""Materials received as records (issue 13): at counter intake (original/copy, by the clerk, at their
point, with the resident's trip and a receipt whose ID number is masked), said online (declared), and
later (collected, resubmitted, supplemented); who may record them; and the 容缺 supplement deadline,
shorter than the promised date and never beyond it."""
from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import delete

from erma.catalog.service import get_item
from erma.clock import today_local
from erma.deferral.rules import deferral_working_days, supplement_deadline
from erma.settings import get_settings
from erma.staff.auth import hash_password
from erma.staff.models import Staff
from erma.working_days import add_working_days
from tests.platform.conftest import DEMO_PASSWORD, SERVICE, case_body, holder, required_materials
from tests.synthetic import fresh_id_number, masked_id

CLERK, WINDOW = "clerk-county-chibusu", "尔玛云便民服务代办点赤不苏镇窗口"
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴


def _counter_case(client, login, id_number: str, **overrides):
    fields = {"materials_have": ["户口簿"], "materials_received": [{"name": "高龄津贴申请表", "form": "original"},
                                                                   {"name": "申请人居民身份证", "form": "copy"}]}
    body = case_body(service_code="MX-013", id_number=id_number, conversation_id=None, **{**fields, **overrides})
    return client.post("/api/v1/cases", json=body, headers={**login(CLERK), "Idempotency-Key": uuid.uuid4().hex})


def test_a_counter_intake_records_what_was_handed_in_the_trip_and_a_masked_receipt(client, login):
    id_number = fresh_id_number()
    r = _counter_case(client, login, id_number, intake_point="online", channel="web_chat")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["channel"] == "counter" and case["intake_point"]["name"] == WINDOW
    assert id_number not in r.text  # a clerk sees the ID number masked, the receipt too
    receipt = case["receipt"]
    assert receipt["id_number"] == masked_id(id_number)
    assert receipt["received"] == ["高龄津贴申请表", "申请人居民身份证"]
    assert receipt["missing"] == [DEFERRABLE] and receipt["can_defer"] == [DEFERRABLE]
    assert receipt["intake_point_name"] == WINDOW and receipt["hukou_town"] == "赤不苏镇"
    assert receipt["agent"]["credential_no"] and "*" in receipt["agent"]["phone_masked"]
    assert receipt["visits"] == 1 and case["visits"] == 1
    assert case["materials_missing"] == [DEFERRABLE]

    file = client.get(f"/api/v1/cases/{case['case_no']}/review", headers=login("reviewer-chibusu")).json()
    rows = {row["name"]: row for row in file["checklist"]}
    assert rows["高龄津贴申请表"]["status_text"] == "✓ 已收"
    [seen] = rows["高龄津贴申请表"]["receipts"]
    assert (seen["form_text"], seen["occasion_text"], seen["place"], seen["by"]) == ("原件", "收件", WINDOW, "杨德明")
    assert rows["申请人居民身份证"]["receipts"][0]["form_text"] == "复印件"
    assert rows["户口簿"]["status"] == "declared" and rows["户口簿"]["receipts"][0]["form_text"] == "群众自述"
    assert [(v["purpose"], v["place"]) for v in file["visits"]] == [("hand_in", WINDOW)]


def test_an_unknown_material_handed_in_is_refused_in_chinese(client, login):
    r = _counter_case(client, login, fresh_id_number(), materials_received=[{"name": "火星护照", "form": "original"}])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "material_unknown" and "火星护照" in r.json()["error"]["message"]


@pytest.fixture
def clerk_without_point(db):
    username = f"clerk-nowhere-{uuid.uuid4().hex[:6]}"
    with db() as s, s.begin():
        s.add(Staff(username=username, password_hash=hash_password(DEMO_PASSWORD), display_name="无点位",
                    role="counter_clerk", town_codes=[]))
    yield username
    with db() as s, s.begin():
        s.execute(delete(Staff).where(Staff.username == username))


def test_a_clerk_without_an_intake_point_is_told_to_have_one_set(client, login, clerk_without_point):
    r = client.post("/api/v1/cases", json=case_body(id_number=fresh_id_number()),
                    headers={**login(clerk_without_point), "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 422 and r.json()["error"]["code"] == "intake_point_missing"
    assert "接件点" in r.json()["error"]["message"]


def test_an_online_case_has_declared_materials_and_no_trip(client, login, open_case):
    case = open_case(materials_have=["户口簿"])
    assert case["visits"] == 0 and case["receipt"]["received"] == []
    assert case["materials_have"] == ["户口簿"] and "户口簿" not in case["materials_missing"]
    file = client.get(f"/api/v1/cases/{case['case_no']}/review", headers=login("reviewer-chibusu")).json()
    row = next(r for r in file["checklist"] if r["name"] == "户口簿")
    assert row["status"] == "declared" and row["receipts"][0]["place"] == "线上"
    assert file["visits"] == []


def test_only_the_holder_an_admin_or_a_clerk_records_materials(client, login, open_case):
    no = open_case(materials_have=[])["case_no"]
    body = {"materials": [{"name": "户口簿", "form": "original"}], "occasion": "collection", "in_person": True}
    other = "agent-chibusu-2" if holder(no) != "agent-chibusu-2" else "agent-chibusu-1"
    for who in ("reviewer-chibusu", other):
        r = client.post(f"/api/v1/cases/{no}/materials", json=body, headers=login(who))
        assert r.status_code == 403, (who, r.text)
    r = client.post(f"/api/v1/cases/{no}/materials", json={**body, "occasion": "intake"}, headers=login(holder(no)))
    assert r.status_code == 422
    r = client.post(f"/api/v1/cases/{no}/materials", json=body, headers=login(holder(no)))
    assert r.status_code == 200, r.text
    assert [v["purpose"] for v in r.json()["visits"]] == ["supplement"]  # in person, at no counter
    case = client.get(f"/api/v1/cases/{no}", headers=login(holder(no))).json()
    assert case["visits"] == 1 and "户口簿" in case["materials_have"] and "户口簿" not in case["materials_missing"]
    r = client.post(f"/api/v1/cases/{no}/materials", json={**body, "in_person": False}, headers=login("admin"))
    assert r.status_code == 200 and len(r.json()["visits"]) == 1


def test_the_supplement_deadline_is_before_the_promised_date(client, login, open_case):
    have = [m for m in required_materials("MX-002") if not m.startswith("变更事由材料")]
    case = open_case(service_code="MX-002", materials_have=have)
    no = case["case_no"]
    assert client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"),
                       json={"decision": "approve_deferral"}).status_code == 200
    r = client.post(f"/api/v1/cases/{no}/deferral", json={}, headers=login(holder(no)))
    assert r.status_code == 201, r.text
    deadline = dt.date.fromisoformat(r.json()["deadline"])
    promised = dt.date.fromisoformat(case["expected_completion_date"])
    assert deadline < promised  # MX-002: promised in 10 working days, supplements within 5
    assert deadline == add_working_days(today_local(), 5)


def test_the_deferral_period_defaults_short_and_is_capped_by_the_promise(db):
    with db() as s:
        item = get_item(s, "MX-013")
    assert deferral_working_days(item.model_copy(update={"deferral_max_working_days": None})) == \
        get_settings().deferral_default_working_days == 5
    assert deferral_working_days(item.model_copy(update={"deferral_max_working_days": 99})) == item.promised_working_days
    one_day = SimpleNamespace(promised_working_days=1, deferral_max_working_days=None)
    assert deferral_working_days(one_day) == 1
    # Opened late, the deadline stops at the case's promised date.
    start = dt.date(2026, 3, 2)
    promised = add_working_days(start, 2)
    assert supplement_deadline(item, start, promised) == promised
    assert supplement_deadline(item, start, add_working_days(start, 30)) == add_working_days(start, 5)


def test_the_receipt_of_a_service_opened_case_names_no_full_id(client):
    id_number = fresh_id_number()
    r = client.post("/api/v1/cases", json=case_body(id_number=id_number, conversation_id=None),
                    headers={**SERVICE, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201 and r.json()["receipt"]["id_number"] == masked_id(id_number)
