"""Every input is bounded: oversized bodies are refused before parsing, values too long or too
large are a 422 in Chinese (never a 500, never stored) on SQLite and PostgreSQL alike, personal
JSON is not cached, and a failed SQL statement logs no applicant's data."""
from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import func, select

from erma import log_redaction
from erma.cases.models import Case
from erma.conversations.models import HandoffRequest
from tests.platform.conftest import SERVICE, case_body

BIG = 2**63  # 9223372036854775808: one past the largest 64-bit integer


def _chat_token(client) -> str:
    return client.post("/chat/api/conversations").json()["token"]


def _error(r, status: int = 422) -> dict:
    assert r.status_code == status, r.text
    return r.json()["error"]


# ------------------------------------------------------------------ body limit

@pytest.mark.parametrize("path", ["/chat/api/messages", "/api/v1/auth/login"])
def test_a_body_over_64_kb_is_refused_before_it_is_parsed(client, path):
    body = json.dumps({"text": "长" * 40000, "username": "x" * 100000}).encode()
    error = _error(client.post(path, content=body, headers={"Content-Type": "application/json"}), 413)
    assert error["code"] == "body_too_large" and error["message"] == "提交的内容太大了，不能超过 64 KB"


def test_a_chunked_body_without_content_length_is_counted_as_it_arrives(client):
    sent = {"chunks": 0}

    def chunks():
        for _ in range(1000):  # 1000 × 1 KB: refused long before the end
            sent["chunks"] += 1
            yield b" " * 1024

    r = client.post("/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert _error(r, 413)["code"] == "body_too_large"


def test_bodies_within_the_limit_still_work(client, open_case):
    assert open_case()["case_no"].startswith("EM-")  # the JSON API, read through the middleware
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong-password-1"})
    assert r.status_code == 401


# ------------------------------------------------------------------ lengths and ranges

@pytest.mark.parametrize("field, value, message", [
    ("current_location", "成" * 129, "“现居住地”太长了，最多 128 个字"),
    ("current_location", "成" * 60000, None),  # ~180 KB of UTF-8: refused by the body limit first
    ("conversation_id", "c" * 129, "“会话编号”太长了，最多 128 个字"),
    ("hukou_village", "村" * 65, "“户籍所在村”太长了，最多 64 个字"),
    ("materials_have", ["身份证"] * 51, "“已有材料”太长了，最多 50 项"),
])
def test_case_fields_past_their_column_are_a_chinese_422_and_nothing_is_stored(client, db, field, value, message):
    r = client.post("/api/v1/cases", json=case_body(**{field: value}), headers=SERVICE)
    if message is None:
        assert r.status_code == 413
    else:
        error = _error(r)
        assert (error["code"], error["message"], error["field"]) == ("field_too_long", message, field)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_an_idempotency_key_past_128_characters_is_a_422(client, db):
    r = client.post("/api/v1/cases", json=case_body(), headers={**SERVICE, "Idempotency-Key": "k" * 129})
    assert _error(r)["message"] == "“请求编号”太长了，最多 128 个字"


def test_a_handoff_with_an_overlong_channel_or_conversation_is_a_422(client, db):
    r = client.post("/api/v1/handoffs", json={"conversation_id": "c-1", "channel": "w" * 21}, headers=SERVICE)
    assert _error(r)["message"] == "“渠道”太长了，最多 20 个字"
    r = client.post("/api/v1/handoffs", json={"conversation_id": "c" * 129}, headers=SERVICE)
    assert _error(r)["field"] == "conversation_id"
    with db() as session:
        assert session.scalar(select(func.count()).select_from(HandoffRequest)) == 0


def test_sequence_numbers_past_the_database_integer_are_out_of_range(client):
    token = _chat_token(client)
    auth = {"Authorization": f"Bearer {token}"}
    for url in ("/chat/api/transcript", "/chat/api/events"):
        r = client.get(url, params={"after_seq": BIG, "token": token}, headers=auth)
        error = _error(r)
        assert (error["code"], error["message"]) == ("field_out_of_range", "“消息序号”超出范围")
    conversation = client.post("/api/v1/conversations", json={}, headers=SERVICE).json()["id"]
    r = client.get(f"/api/v1/conversations/{conversation}/transcript", params={"after_seq": BIG}, headers=SERVICE)
    assert _error(r)["code"] == "field_out_of_range"
    # The largest value that is in range is simply an empty page.
    r = client.get("/chat/api/transcript", params={"after_seq": 2**31 - 1}, headers=auth)
    assert r.status_code == 200 and r.json()["entries"] == []


def test_task_and_agent_ids_past_the_database_integer_are_out_of_range(client, login, open_case):
    lead = login("lead-1")
    r = client.post(f"/api/v1/followup-tasks/{BIG}/complete", json={"outcome": "已回访"}, headers=lead)
    assert _error(r)["message"] == "“任务编号”超出范围"
    case_no = open_case()["case_no"]
    r = client.post(f"/api/v1/cases/{case_no}/assignment", json={"agent_id": BIG}, headers=lead)
    assert _error(r)["message"] == "“代办员”超出范围"


# ------------------------------------------------------------------ caching

def test_personal_json_and_staff_pages_are_never_cached(client, login, open_case):
    case_no = open_case()["case_no"]
    for url, headers in ((f"/api/v1/cases/{case_no}", login("admin")), ("/api/v1/agent/inbox", login("admin")),
                         (f"/api/v1/cases/{case_no}/status?last4=0011", {}), ("/staff/login", {})):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store", url
    token = _chat_token(client)
    r = client.get("/chat/api/transcript", headers={"Authorization": f"Bearer {token}"})
    assert r.headers["cache-control"] == "no-store"
    assert client.get("/chat").headers["cache-control"] == "no-cache"  # the page itself holds no data


# ------------------------------------------------------------------ SQL errors in logs

def test_a_failing_insert_logs_no_applicant_name_or_village(db):
    out = io.StringIO()
    logger = logging.getLogger("erma.test_bounds")
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    log_redaction.install(logger)
    try:
        with db() as session:
            # No service item: NOT NULL fails; PostgreSQL's DETAIL would list the whole row.
            session.add(Case(case_no="EM-20261206-9999", service_code=None, applicant_name="杨子妹",
                             id_number_enc="x", id_number_hash="h", id_number_masked="m", id_last4="0011",
                             phone_enc="x", phone_hash="h", phone_masked="m", phone_last4="5678",
                             hukou_town_code="513223114", hukou_village="雅都村", current_location="成都市武侯区",
                             intake_point_code="online", channel="web_chat", stage="received"))
            try:
                session.flush()
            except Exception as exc:  # noqa: BLE001
                logger.exception("insert failed: %s", exc)
            else:
                pytest.fail("the insert should have failed")
    finally:
        logger.removeHandler(handler)
    logged = out.getvalue()
    assert "insert failed" in logged and "Traceback" in logged
    for value in ("杨子妹", "雅都村", "成都市武侯区"):
        assert value not in logged


def test_an_empty_client_msg_id_is_a_422_not_a_clash_between_messages(client, db):
    """Found by the fuzz run: two messages with client_msg_id "" hit the unique index (a 500)."""
    conversation = client.post("/api/v1/conversations", json={}, headers=SERVICE).json()["id"]
    for _ in range(2):
        r = client.post(f"/api/v1/conversations/{conversation}/messages", json={"text": "你好", "client_msg_id": ""},
                        headers=SERVICE)
        assert _error(r)["field"] == "client_msg_id"
