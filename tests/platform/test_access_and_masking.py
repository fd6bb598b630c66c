"""Service token, staff roles scoped to towns, and masking of ID numbers and phones."""
from __future__ import annotations

import logging

from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE


def test_no_token_or_bad_token_is_401(client):
    assert client.get("/api/v1/cases/EM-20260101-0001").status_code == 401
    r = client.get("/api/v1/cases/EM-20260101-0001", headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401 and r.json()["error"]["message"]


def test_wrong_password_is_401(client):
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": "guess"})
    assert r.status_code == 401


def test_passwords_are_hashed(db):
    from sqlalchemy import select

    from erma.staff.models import Staff

    with db() as s:
        staff = s.scalar(select(Staff).where(Staff.username == "admin"))
    assert staff.password_hash.startswith("$argon2") and "erma-demo-2026" not in staff.password_hash


def test_service_and_reviewer_see_masked_identity(client, login, open_case):
    no = open_case()["case_no"]
    for headers in (SERVICE, login("reviewer-chibusu")):
        body = client.get(f"/api/v1/cases/{no}", headers=headers).json()
        assert body["id_number"] == "513223********0011"
        assert body["phone"] == "138****5678"
        assert VALID_ID not in str(body) and VALID_PHONE not in str(body)


def test_agent_of_the_town_sees_full_identity_other_town_agent_sees_nothing(client, login, open_case):
    no = open_case()["case_no"]
    body = client.get(f"/api/v1/cases/{no}", headers=login("agent-chibusu-1")).json()
    assert body["id_number"] == VALID_ID and body["phone"] == VALID_PHONE
    assert client.get(f"/api/v1/cases/{no}", headers=login("agent-tumen-1")).status_code == 404


def test_duty_lead_sees_phone_for_follow_up_but_not_id(client, login, open_case):
    body = client.get(f"/api/v1/cases/{open_case()['case_no']}", headers=login("lead-2")).json()
    assert body["phone"] == VALID_PHONE and body["id_number"] == "513223********0011"


def test_case_list_is_scoped_to_the_reviewers_towns(client, login, open_case):
    mine = open_case()["case_no"]
    theirs = open_case(hukou_town="土门镇", hukou_village=None)["case_no"]
    listed = [c["case_no"] for c in client.get("/api/v1/cases", headers=login("reviewer-chibusu")).json()["items"]]
    assert mine in listed and theirs not in listed
    assert client.get("/api/v1/cases?town=513223107", headers=login("reviewer-chibusu")).status_code == 403


def test_reviewer_cannot_open_cases(client, login):
    from tests.platform.conftest import case_body

    r = client.post("/api/v1/cases", json=case_body(), headers=login("reviewer-chibusu"))
    assert r.status_code == 403


def test_logs_never_carry_full_id_or_phone(client, caplog):
    from erma.log_redaction import RedactingFilter

    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("erma.test").warning("resident typed %s and %s", VALID_ID, VALID_PHONE)
        client.post("/api/v1/cases", json={"id_number": VALID_ID, "phone": VALID_PHONE}, headers=SERVICE)
    text = caplog.text
    assert "resident typed" in text
    assert VALID_ID not in text and VALID_PHONE not in text
    assert "513223********0011" in text and "138****5678" in text


def test_validation_endpoint_returns_masked_display(client):
    r = client.post("/api/v1/validation", json={"field": "id_number", "value": VALID_ID.replace("11", "1 1")},
                    headers=SERVICE).json()
    assert r["valid"] is True and r["display"] == "513223********0011"
    r = client.post("/api/v1/validation", json={"field": "id_number", "value": "513223198001010012"}, headers=SERVICE).json()
    assert r["valid"] is False and r["code"] == "id_number_checksum" and "校验" in r["message"]
    r = client.post("/api/v1/validation", json={"field": "hukou_town", "value": "我是永和乡的"}, headers=SERVICE).json()
    assert r["valid"] is True and r["town_name"] == "渭门镇"
    r = client.post("/api/v1/validation", json={"field": "hukou_town", "value": "雅都村"}, headers=SERVICE).json()
    assert r["town_name"] == "赤不苏镇" and r["village"] == "雅都村"


def test_access_log_lines_lose_the_status_digits():
    from erma.log_redaction import redact

    line = '127.0.0.1 - "GET /api/v1/cases/EM-20261126-0001/status?last4=0027 HTTP/1.1" 404'
    assert "0027" not in redact(line) and "last4=****" in redact(line)


def test_credentials_in_request_urls_are_masked_in_logs():
    from erma.log_redaction import redact

    line = ("HTTP Request: GET https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential"
            "&appid=wx1&secret=s3cr3t and POST http://rasa/webhooks/rest/webhook?token=abc123 "
            "custom/send?access_token=AT_456")
    out = redact(line)
    assert "s3cr3t" not in out and "abc123" not in out and "AT_456" not in out
    assert "secret=***" in out and "token=***" in out and "access_token=***" in out


def test_access_log_lines_are_masked_and_still_formatted():
    """uvicorn's access formatter unpacks the record's arguments: masking must keep their shape."""
    from uvicorn.logging import AccessFormatter

    from erma.log_redaction import RedactingFilter

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/chat/api/events?token=SECRET-TOKEN&after_seq=3", "1.1", 200),
                               None)
    assert RedactingFilter().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert "SECRET-TOKEN" not in line
    assert line == '127.0.0.1:5000 - "GET /chat/api/events?token=***&after_seq=3 HTTP/1.1" 200 OK'
