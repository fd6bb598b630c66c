"""Generated requests over the whole OpenAPI end in no server error and no unhandled exception, as
the county admin, as the action server's service token and as a resident's web-chat token.

The short run here is part of every platform test run (SQLite and PostgreSQL). The long run
(README, "Fuzzing the API"):
    ERMA_FUZZ_REQUESTS=10000 .venv/bin/python -m pytest tests/platform/test_fuzz_api.py -q -s
"""
from __future__ import annotations

import os

import pytest

from erma.settings import get_settings
from tests.platform.conftest import DEMO_PASSWORD, SERVICE
from tests.platform.fuzzing import fuzz

LONG = "ERMA_FUZZ_REQUESTS" in os.environ
REQUESTS = int(os.environ.get("ERMA_FUZZ_REQUESTS", "120"))
# The short run must stay short on a slow machine; the long one runs to its count.
TIME_LIMIT = None if LONG else 30.0


@pytest.fixture
def app(db, monkeypatch):
    from erma.app import create_app

    monkeypatch.setattr(get_settings(), "wechat_token", "fuzz-wechat-token")  # the callback checks signatures
    return create_app()


def _admin_headers(client) -> dict:
    r = client.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _known(client, open_case) -> dict:
    """Path parameters naming things that exist, so generated input gets past the 404."""
    conversation = client.post("/api/v1/conversations", json={"channel": "web_chat"}, headers=SERVICE).json()
    return {"case_no": open_case()["case_no"], "conversation_id": conversation["id"], "town_code": "513223114",
            "code": "MX-001"}


@pytest.mark.parametrize("who", ["admin", "service"])
def test_generated_requests_cause_no_server_error(app, client, open_case, who):
    headers = _admin_headers(client) if who == "admin" else dict(SERVICE)
    report = fuzz(app, headers, REQUESTS, known=_known(client, open_case), time_limit=TIME_LIMIT)
    print(f"\nfuzz as {who}: {report.summary()}")
    assert report.requests >= 100, report.summary()
    assert report.server_errors == 0, "\n".join(report.failures[:20])


def test_generated_web_chat_requests_cause_no_server_error(app, client):
    token = client.post("/chat/api/conversations").json()["token"]
    report = fuzz(app, {"Authorization": f"Bearer {token}"}, max(REQUESTS // 4, 30), prefix="/chat/api",
                  time_limit=TIME_LIMIT)
    print(f"\nfuzz as a web-chat resident: {report.summary()}")
    assert report.requests >= 30, report.summary()
    assert report.server_errors == 0, "\n".join(report.failures[:20])
