"""Staff sessions live on the server: signing out (page or API) ends that session at once, for a kept
cookie and for the same token used as a bearer; a password reset, deactivation or a change of role
or towns by an admin ends all of the member's sessions and nobody else's; expired sessions are
refused and cleared; every request checks its session in one lookup."""
from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update

import erma.db as erma_db
from erma.staff.auth import issue_token
from erma.staff.models import Staff, StaffSession
from tests.platform.conftest import DEMO_PASSWORD, SERVICE
from tests.platform.test_staff_sign_in import csrf, sign_in

NANXIN = "513223101"
STAFF_COLUMNS = ("password_hash", "display_name", "role", "town_codes", "credential_no", "phone_enc",
                 "phone_masked", "active")


@pytest.fixture
def keep_staff(migrated):
    """Accounts outlive a test: put back what an admin changed here."""
    factory = erma_db.get_sessionmaker()
    with factory() as s:
        saved = {r.username: {c: getattr(r, c) for c in STAFF_COLUMNS} for r in s.scalars(select(Staff))}
    yield
    with factory() as s, s.begin():
        for row in s.scalars(select(Staff)):
            for column, value in saved[row.username].items():
                setattr(row, column, value)


def api_token(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> dict:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def browser(client: TestClient, username: str) -> TestClient:
    page = TestClient(client.app)
    assert sign_in(page, username).status_code == 303
    return page


def with_cookie(client: TestClient, token: str) -> TestClient:
    """Another browser that kept (or stole) a session cookie."""
    return TestClient(client.app, cookies={"erma_session": token})


def refused(client: TestClient, headers: dict | None = None) -> bool:
    r = client.get("/api/v1/auth/me", headers=headers)
    return r.status_code == 401


def page_sends_to_sign_in(client: TestClient, path: str = "/staff/inbox") -> bool:
    r = client.get(path, follow_redirects=False)
    return r.status_code == 303 and r.headers["location"].startswith("/staff/login?next=")


# ------------------------------------------------------------------ signing out

def test_signing_out_of_the_page_ends_the_session_even_for_a_kept_cookie(client):
    page = browser(client, "agent-chibusu-1")
    token = page.cookies["erma_session"]
    assert page.get("/staff/inbox").status_code == 200

    out = page.post("/staff/logout", data={"csrf": page.cookies["erma_csrf"]}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/staff/login?out=1"

    kept = with_cookie(client, token)
    assert page_sends_to_sign_in(kept)
    r = kept.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"
    assert "重新登录" in r.json()["error"]["message"]
    # The same signed token as a bearer opens nothing either.
    assert refused(client, {"Authorization": f"Bearer {token}"})


def test_signing_out_through_the_api_ends_only_that_session(client):
    first, second = api_token(client, "agent-chibusu-1"), api_token(client, "agent-chibusu-1")
    r = client.post("/api/v1/auth/logout", headers=first)
    assert r.status_code == 200 and r.json() == {"signed_out": True}

    gone = client.get("/api/v1/auth/me", headers=first)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "session_ended"
    assert page_sends_to_sign_in(with_cookie(client, first["Authorization"].removeprefix("Bearer ")))
    assert client.post("/api/v1/auth/logout", headers=first).status_code == 401
    # The member's other sign-in (another device) goes on.
    assert client.get("/api/v1/auth/me", headers=second).json()["username"] == "agent-chibusu-1"


def test_a_page_signs_out_through_the_api_with_its_csrf_header(client):
    page = browser(client, "reviewer-chibusu")
    token = page.cookies["erma_session"]
    forged = page.post("/api/v1/auth/logout")  # another site cannot sign the reviewer out
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    assert page.get("/api/v1/auth/me").status_code == 200

    r = page.post("/api/v1/auth/logout", headers=csrf(page))
    assert r.status_code == 200
    assert "erma_session" not in page.cookies
    assert refused(with_cookie(client, token))
    assert page_sends_to_sign_in(with_cookie(client, token), "/staff/review")


def test_the_service_token_has_no_session_to_end(client):
    r = client.post("/api/v1/auth/logout", headers=SERVICE)
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_a_staff_session"
    assert client.get("/api/v1/auth/me", headers=SERVICE).json()["role"] == "service"


def test_a_correctly_signed_token_without_a_live_session_opens_nothing(client, db):
    with db() as s:
        agent = s.scalar(select(Staff).where(Staff.username == "agent-chibusu-1"))
        stateless = issue_token(agent)  # what tokens looked like before sessions: the staff id alone
        guessed = issue_token(agent, "not-a-session-key")
    for token in (stateless, guessed):
        assert refused(client, {"Authorization": f"Bearer {token}"})
        assert page_sends_to_sign_in(with_cookie(client, token))

    # Another member's session key under this member's id is refused too.
    other = api_token(client, "agent-chibusu-2")["Authorization"].removeprefix("Bearer ")
    from erma.staff.auth import _serializer

    key = _serializer().loads(other)["key"]
    assert refused(client, {"Authorization": f"Bearer {issue_token(agent, key)}"})


# ------------------------------------------------------------------ account changes by an admin

def test_a_password_reset_ends_every_session_of_that_member_and_no_one_else_s(client, keep_staff):
    admin = api_token(client, "admin")
    member_page, member_api = browser(client, "agent-nanxin-1"), api_token(client, "agent-nanxin-1")
    colleague_page, colleague_api = browser(client, "agent-chibusu-1"), api_token(client, "agent-chibusu-1")

    r = client.post("/api/v1/admin/staff/agent-nanxin-1/password", json={"password": "Nanxin2026new"}, headers=admin)
    assert r.status_code == 200, r.text

    assert refused(member_page) and page_sends_to_sign_in(member_page)
    assert refused(client, member_api)
    assert not refused(colleague_page) and colleague_page.get("/staff/inbox").status_code == 200
    assert not refused(client, colleague_api) and not refused(client, admin)
    # Signing in again with the new password works.
    assert not refused(client, api_token(client, "agent-nanxin-1", "Nanxin2026new"))


def test_an_admin_resetting_their_own_password_stays_signed_in_on_this_device_only(client, keep_staff):
    here, elsewhere = api_token(client, "admin"), api_token(client, "admin")
    r = client.post("/api/v1/admin/staff/admin/password", json={"password": "Admin2026new"}, headers=here)
    assert r.status_code == 200, r.text
    assert not refused(client, here)
    assert refused(client, elsewhere)


def test_deactivation_ends_the_sessions_and_reactivation_does_not_revive_them(client, keep_staff):
    admin = api_token(client, "admin")
    member_page, member_api = browser(client, "agent-chibusu-2"), api_token(client, "agent-chibusu-2")
    colleague = api_token(client, "agent-chibusu-1")

    assert client.post("/api/v1/admin/staff/agent-chibusu-2/deactivate", headers=admin).status_code == 200
    assert client.post("/api/v1/admin/staff/agent-chibusu-2/activate", headers=admin).status_code == 200

    assert page_sends_to_sign_in(member_page) and refused(member_page)
    assert refused(client, member_api)
    assert not refused(client, colleague)
    assert not refused(client, api_token(client, "agent-chibusu-2"))


@pytest.mark.parametrize("change", [{"towns": [NANXIN]}, {"role": "town_reviewer", "credential_no": ""}],
                         ids=["towns", "role"])
def test_a_change_of_role_or_towns_ends_the_member_s_sessions(client, keep_staff, change):
    admin = api_token(client, "admin")
    member_page, member_api = browser(client, "agent-chibusu-2"), api_token(client, "agent-chibusu-2")
    colleague_page = browser(client, "agent-chibusu-1")

    r = client.patch("/api/v1/admin/staff/agent-chibusu-2", json=change, headers=admin)
    assert r.status_code == 200, r.text

    assert page_sends_to_sign_in(member_page)
    assert refused(client, member_api)
    assert colleague_page.get("/staff/inbox").status_code == 200
    # Signed in again, the member works with the new role and towns.
    me = client.get("/api/v1/auth/me", headers=api_token(client, "agent-chibusu-2")).json()
    assert me["role"] == change.get("role", "agent") and me["towns"] == change.get("towns", ["513223114"])


def test_a_change_of_name_or_phone_keeps_the_member_signed_in(client, keep_staff):
    admin = api_token(client, "admin")
    member = api_token(client, "agent-chibusu-2")
    r = client.patch("/api/v1/admin/staff/agent-chibusu-2", json={"display_name": "杨秀珍", "mobile": "13900000002"},
                     headers=admin)
    assert r.status_code == 200, r.text
    assert not refused(client, member)


# ------------------------------------------------------------------ expiry and cost

def test_an_expired_session_is_refused_and_cleared_at_the_next_sign_in(client, db):
    page = browser(client, "agent-chibusu-1")
    with db() as s, s.begin():
        s.execute(update(StaffSession).values(expires_at=erma_db.utcnow() - dt.timedelta(seconds=1)))
    r = page.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    assert page_sends_to_sign_in(page)

    api_token(client, "agent-chibusu-2")
    with db() as s:
        assert s.scalar(select(func.count(StaffSession.id))) == 1  # only the new one is left


def test_each_request_checks_its_session_in_one_query(client):
    headers = api_token(client, "agent-chibusu-1")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = erma_db.get_engine()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1, statements
    assert "staff_sessions" in statements[0]
