"""Repeated failed staff sign-ins are slowed down: 5 failures for one username from one address within
15 minutes refuse that username there for 15 minutes (even with the right password), 50 from anywhere
refuse it everywhere, 20 failures from one client address refuse that address; the answer is 429 with a Chinese message that says how long to wait and
is the same for an unknown username; a success forgets the username's failures; the lock lifts by
itself; old failures are deleted."""
from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from erma.db import utcnow
from erma.errors import TooManyRequests, Unauthorized
from erma.staff.auth import sign_in
from erma.staff.models import SignInFailure
from tests.platform.conftest import DEMO_PASSWORD
from tests.platform.test_staff_sign_in import set_cookie_headers
from tests.platform.test_staff_sign_in import sign_in as page_sign_in

WAIT_15 = "登录失败次数太多，为了账号安全，请15分钟后再试。忘记密码请联系县级管理员。"


def api_sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def answers(client: TestClient, username: str, tries: int, password: str = "wrong-guess-1") -> list[tuple[int, str]]:
    out = []
    for _ in range(tries):
        r = api_sign_in(client, username, password)
        out.append((r.status_code, r.json()["error"]["message"]))
    return out


def shift_failures(db, by: dt.timedelta) -> None:
    """As if the stored failures had happened `by` earlier (no sleeping)."""
    with db() as s, s.begin():
        for row in s.scalars(select(SignInFailure)):
            row.at = row.at - by


def test_five_failures_lock_the_username_even_for_the_right_password(client):
    got = answers(client, "agent-chibusu-1", 5)
    assert got[:4] == [(401, "用户名或密码不对")] * 4
    assert got[4] == (429, WAIT_15)  # the failure that reaches the limit already says how long to wait

    r = api_sign_in(client, "agent-chibusu-1")  # the right password, during the lock
    assert r.status_code == 429
    assert r.json()["error"] == {"code": "sign_in_throttled", "message": WAIT_15, "retry_after": 900}
    assert r.headers["retry-after"] == "900"
    assert "access_token" not in r.text
    # Other members signing in from the same place are not held up by one username.
    assert api_sign_in(client, "agent-chibusu-2").status_code == 200


def test_an_unknown_username_is_answered_exactly_like_a_real_one(client):
    real = answers(client, "agent-nanxin-1", 6)
    unknown = answers(client, "agent-nobody-9", 6)
    assert unknown == real
    assert real[-1] == (429, WAIT_15)


def test_the_sign_in_page_shows_the_wait_next_to_the_form_and_keeps_the_username(client):
    for _ in range(5):
        page_sign_in(client, "reviewer-chibusu", password="wrong-guess-1")
    r = page_sign_in(client, "reviewer-chibusu")
    assert r.status_code == 429
    error = re.search(r'<p class="error" role="alert" id="login-error">([^<]*)</p>', r.text)
    assert error and error.group(1) == WAIT_15
    assert 'value="reviewer-chibusu"' in r.text
    assert "erma_session" not in set_cookie_headers(r)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_success_forgets_the_username_s_failures(client):
    assert answers(client, "agent-chibusu-1", 4) == [(401, "用户名或密码不对")] * 4
    assert api_sign_in(client, "agent-chibusu-1").status_code == 200
    # Counting starts again: four more mistakes are still only mistakes.
    assert answers(client, "agent-chibusu-1", 4) == [(401, "用户名或密码不对")] * 4
    assert api_sign_in(client, "agent-chibusu-1").status_code == 200


def test_the_message_counts_down_and_the_lock_lifts_after_15_minutes(client, db):
    answers(client, "agent-chibusu-1", 5)
    shift_failures(db, dt.timedelta(minutes=10))
    r = api_sign_in(client, "agent-chibusu-1")
    assert r.status_code == 429 and "请5分钟后再试" in r.json()["error"]["message"]

    shift_failures(db, dt.timedelta(minutes=5, seconds=1))
    r = api_sign_in(client, "agent-chibusu-1")
    assert r.status_code == 200 and r.json()["access_token"]


def test_the_lock_lasts_15_minutes_after_the_failure_that_reached_the_limit(db):
    start = utcnow()
    with db() as s:
        for minute in (0, 4, 8, 12, 14):  # five failures spread over 14 minutes
            try:
                sign_in(s, "agent-chibusu-1", "wrong-guess-1", "10.1.2.3", now=start + dt.timedelta(minutes=minute))
            except (Unauthorized, TooManyRequests):
                pass

        def attempt(after: dt.timedelta):
            try:
                sign_in(s, "agent-chibusu-1", DEMO_PASSWORD, "10.1.2.3", now=start + after)
            except TooManyRequests as exc:
                return exc.message
            return "signed in"

        # Still refused once the first failure is older than the window …
        assert "请14分钟后再试" in attempt(dt.timedelta(minutes=15))
        assert "请1分钟后再试" in attempt(dt.timedelta(minutes=28, seconds=30))
        # … and open 15 minutes after the fifth.
        assert attempt(dt.timedelta(minutes=29, seconds=1)) == "signed in"


def test_twenty_failures_from_one_address_lock_that_address_for_every_username(client):
    here = TestClient(client.app, client=("203.0.113.7", 40000))
    elsewhere = TestClient(client.app, client=("198.51.100.9", 40000))
    got = []
    for i in range(20):  # four tries each on five usernames: none of them locked on its own
        got += answers(here, f"guess-{i % 5}", 1)
    assert got[:19] == [(401, "用户名或密码不对")] * 19
    assert got[19] == (429, WAIT_15)

    r = api_sign_in(here, "agent-chibusu-1")  # a real account, right password, from that address
    assert r.status_code == 429 and r.json()["error"]["message"] == WAIT_15
    assert api_sign_in(elsewhere, "agent-chibusu-1").status_code == 200
    # A success from elsewhere does not lift the address's lock.
    assert api_sign_in(here, "agent-chibusu-2").status_code == 429


def test_a_stranger_s_five_wrong_passwords_do_not_lock_the_admin_out(client):
    stranger = TestClient(client.app, client=("203.0.113.7", 40000))
    office = TestClient(client.app, client=("198.51.100.9", 40000))
    assert answers(stranger, "admin", 5)[4] == (429, WAIT_15)
    assert api_sign_in(stranger, "admin").status_code == 429  # locked for the stranger's address
    assert api_sign_in(office, "admin").status_code == 200  # the admin at the office signs in


def test_fifty_failures_from_many_addresses_lock_the_username_everywhere(client):
    for i in range(12):  # four each from 12 addresses: no address reaches its own limits
        got = answers(TestClient(client.app, client=(f"203.0.113.{i + 1}", 40000)), "admin", 4)
        assert got == [(401, "用户名或密码不对")] * 4
    last = TestClient(client.app, client=("198.51.100.200", 40000))
    assert answers(last, "admin", 2) == [(401, "用户名或密码不对"), (429, WAIT_15)]  # the 50th failure
    assert api_sign_in(TestClient(client.app, client=("198.51.100.9", 40000)), "admin").status_code == 429


def test_old_failures_are_deleted_as_new_ones_come(client, db):
    answers(client, "agent-chibusu-1", 3)
    shift_failures(db, dt.timedelta(hours=1))
    answers(client, "agent-chibusu-2", 1)
    with db() as s:
        keys = s.scalars(select(SignInFailure.key)).all()
        assert sorted(keys) == ["client:testclient", "user:agent-chibusu-2", "user:agent-chibusu-2@testclient"]
        # The expired failures of the first username no longer count either.
        assert s.scalar(select(func.count()).select_from(SignInFailure)
                        .where(SignInFailure.key == "user:agent-chibusu-1")) == 0

