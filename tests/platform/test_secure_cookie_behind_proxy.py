"""Staff cookies are `Secure` when the request was https; behind a reverse proxy `python -m erma serve`
believes X-Forwarded-Proto and X-Forwarded-For only from the proxies in ERMA_TRUSTED_PROXIES
(default 127.0.0.1), so the cookies stay Secure and sign-in failures count the real client."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from erma.staff.models import SignInFailure
from tests.platform.test_staff_sign_in import set_cookie_headers, sign_in

ROOT = Path(__file__).resolve().parents[2]
HTTPS = {"X-Forwarded-Proto": "https"}


def secure(set_cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in set_cookie.split(";")]


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_the_session_cookies_are_secure_exactly_when_the_request_was_https(client, scheme):
    browser = TestClient(client.app, base_url=f"{scheme}://testserver")
    cookies = set_cookie_headers(sign_in(browser, "agent-chibusu-1"))
    assert secure(cookies["erma_session"]) is (scheme == "https")
    assert secure(cookies["erma_csrf"]) is (scheme == "https")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(migrated):
    """Starts `python -m erma serve` with extra environment; stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(**env: str) -> str:
        port = _free_port()
        environ = {k: v for k, v in os.environ.items() if k != "ERMA_TRUSTED_PROXIES"}
        proc = subprocess.Popen([sys.executable, "-m", "erma", "serve", "--port", str(port)], cwd=ROOT,
                                env={**environ, "DATABASE_URL": migrated, "PYTHONPATH": str(ROOT), **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the platform did not start")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_served_platform_believes_only_its_trusted_proxy(serve, db):
    behind_proxy = serve()  # default: the proxy runs on this machine (127.0.0.1)
    r = httpx.get(f"{behind_proxy}/staff/login", headers=HTTPS)
    assert secure(set_cookie_headers(r)["erma_login_csrf"])
    assert not secure(set_cookie_headers(httpx.get(f"{behind_proxy}/staff/login"))["erma_login_csrf"])
    # The client's own address is the one the proxy names: its failures count for that address.
    httpx.post(f"{behind_proxy}/api/v1/auth/login", json={"username": "agent-chibusu-1", "password": "wrong-guess-1"},
               headers={"X-Forwarded-For": "203.0.113.50"})
    with db() as s:
        assert "client:203.0.113.50" in s.scalars(select(SignInFailure.key)).all()

    elsewhere = serve(ERMA_TRUSTED_PROXIES="10.0.0.1")  # requests from 127.0.0.1 are not from the proxy
    r = httpx.get(f"{elsewhere}/staff/login", headers=HTTPS)
    assert not secure(set_cookie_headers(r)["erma_login_csrf"])
