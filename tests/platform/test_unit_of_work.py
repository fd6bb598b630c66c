"""One unit of work (erma/unit_of_work.py): only it commits; routes neither query nor commit; a request's
work is committed before its answer is sent and rolled back on any error; a refusal that must leave a
record (a failed status lookup, a failed sign-in) still does."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from erma.app import create_app
from erma.channels.wechat.models import WechatNonce
from erma.conversations import rasa_client
from erma.db import utcnow
from erma.errors import Conflict
from erma.places.models import TownAlias
from erma.staff.models import SignInFailure
from erma.status.models import StatusLookupFailure
from erma.unit_of_work import SESSION, after_commit, keep_on_refusal, unit_of_work
from tests.platform.conftest import SERVICE, VALID_PHONE

ERMA = Path(__file__).resolve().parents[2] / "erma"
# Called on anything in a route module, these are a query or transaction control (session.get too).
QUERY_CALLS = {"execute", "scalar", "scalars", "query", "commit", "rollback", "flush", "begin_nested"}


def _python_files() -> list[Path]:
    return sorted(p for p in ERMA.rglob("*.py") if "__pycache__" not in p.parts)


def _route_modules() -> list[Path]:
    """Every module of routes: erma/**/views.py, erma/**/*_views.py and the staff pages (erma/console)."""
    return sorted(p for p in _python_files()
                  if p.name == "views.py" or p.name.endswith("_views.py") or p.parent.name == "console")


def _calls(tree: ast.AST, names: set[str]):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in names:
            yield node


# ---------------------------------------------------------------- the rule, read from the code

def test_only_the_unit_of_work_commits():
    committing = sorted(f"{p.relative_to(ERMA.parent)}:{call.lineno}" for p in _python_files()
                        for call in _calls(ast.parse(p.read_text(encoding="utf-8")), {"commit"}))
    assert committing and all(place.startswith("erma/unit_of_work.py:") for place in committing), committing
    grep = [f"{p.relative_to(ERMA.parent)}" for p in _python_files()
            if "session.commit" in p.read_text(encoding="utf-8") and p.name != "unit_of_work.py"]
    assert grep == []


def test_routes_neither_query_nor_commit():
    found = []
    for path in _route_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, QUERY_CALLS | {"get"}):
            receiver = call.func.value.id if isinstance(call.func.value, ast.Name) else None
            if call.func.attr in QUERY_CALLS or receiver == "session":
                found.append(f"{path.relative_to(ERMA.parent)}:{call.lineno} {receiver}.{call.func.attr}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy") \
                    and any(alias.name in ("select", "update", "delete", "insert", "text") for alias in node.names):
                found.append(f"{path.relative_to(ERMA.parent)}:{node.lineno} imports sqlalchemy statements")
    assert _route_modules() and found == []


def test_every_route_shares_the_one_session_dependency():
    """get_session is gone from the routes: one definition (SESSION) means one session per request."""
    users = [str(p.relative_to(ERMA.parent)) for p in _python_files()
             if "Depends(get_session)" in p.read_text(encoding="utf-8")]
    assert users == []


# ---------------------------------------------------------------- behaviour

@pytest.fixture
def app_with_probes(db):
    """The real application with a few routes that exercise the request's unit of work directly."""
    app = create_app()

    def same_session(session: Session = SESSION) -> Session:
        return session

    @app.get("/test/uow/one-session")
    def one_session(a: Session = SESSION, b: Session = Depends(same_session)) -> dict:
        return {"same": a is b}

    @app.post("/test/uow/write-then-refuse")
    def write_then_refuse(session: Session = SESSION) -> dict:
        session.add(WechatNonce(nonce="uow-refused", seen_at=utcnow()))
        session.flush()
        raise Conflict("refused", "不行")

    @app.post("/test/uow/write")
    def write(session: Session = SESSION) -> dict:
        session.add(WechatNonce(nonce="uow-kept", seen_at=utcnow()))
        return {"written": True}

    @app.post("/test/uow/commit-fails")
    def commit_fails(session: Session = SESSION) -> dict:
        # Not flushed here: the duplicate key only fails when the unit of work commits, after the route returned.
        alias = session.scalar(select(TownAlias).limit(1))
        session.expunge(alias)
        session.add(TownAlias(alias=alias.alias, town_code=alias.town_code, confirmed=alias.confirmed))
        return {"written": True}

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _nonces(db, nonce: str) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(WechatNonce).where(WechatNonce.nonce == nonce))


def test_a_request_has_one_session_shared_by_its_dependencies(app_with_probes):
    assert app_with_probes.get("/test/uow/one-session").json() == {"same": True}


def test_a_route_that_wrote_and_then_refused_leaves_nothing_behind(app_with_probes, db):
    r = app_with_probes.post("/test/uow/write-then-refuse")
    assert r.status_code == 409 and r.json()["error"]["code"] == "refused"
    assert _nonces(db, "uow-refused") == 0


def test_what_a_route_wrote_is_committed_before_it_answers(app_with_probes, db):
    assert app_with_probes.post("/test/uow/write").status_code == 200
    assert _nonces(db, "uow-kept") == 1


def test_a_commit_that_fails_answers_an_error_not_200(app_with_probes, db):
    with db() as session:
        before = session.scalar(select(func.count()).select_from(TownAlias))
    r = app_with_probes.post("/test/uow/commit-fails")
    assert r.status_code == 500
    with db() as session:
        assert session.scalar(select(func.count()).select_from(TownAlias)) == before


def test_a_refused_status_lookup_is_still_counted(client, open_case, db):
    case_no = open_case()["case_no"]
    r = client.get(f"/api/v1/cases/{case_no}/status", params={"last4": "0000"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found"
    with db() as session:
        keys = set(session.scalars(select(StatusLookupFailure.key)))
    assert f"case:{case_no}" in keys and any(k.startswith("client:") for k in keys)
    for _ in range(4):
        assert client.get(f"/api/v1/cases/{case_no}/status", params={"last4": "0000"}).status_code == 404
    # The five refusals were counted: now even the right digits wait.
    r = client.get(f"/api/v1/cases/{case_no}/status", params={"last4": VALID_PHONE[-4:]})
    assert r.status_code == 429


def test_a_refused_sign_in_is_still_counted(client, db):
    r = client.post("/api/v1/auth/login", json={"username": "agent-chibusu-1", "password": "wrong-password-1"})
    assert r.status_code == 401
    with db() as session:
        keys = set(session.scalars(select(SignInFailure.key)))
    assert "user:agent-chibusu-1" in keys and any(k.startswith("client:") for k in keys)


def test_a_refused_sign_in_on_the_page_is_still_counted(client, db):
    page = client.get("/staff/login")
    csrf = page.cookies.get("erma_login_csrf") or client.cookies.get("erma_login_csrf")
    r = client.post("/staff/login", data={"username": "agent-nanxin-1", "password": "wrong-password-2",
                                          "csrf": csrf or ""})
    assert r.status_code == 401
    with db() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure)
                              .where(SignInFailure.key == "user:agent-nanxin-1")) == 1


def test_a_unit_of_work_commits_rolls_back_and_keeps_a_marked_refusal(db):
    with unit_of_work(db) as session:
        session.add(WechatNonce(nonce="uow-job", seen_at=utcnow()))
    assert _nonces(db, "uow-job") == 1
    with pytest.raises(RuntimeError), unit_of_work(db) as session:
        session.add(WechatNonce(nonce="uow-crash", seen_at=utcnow()))
        session.flush()
        raise RuntimeError("boom")
    assert _nonces(db, "uow-crash") == 0
    with pytest.raises(Conflict), unit_of_work(db) as session:
        session.add(WechatNonce(nonce="uow-counted", seen_at=utcnow()))
        session.flush()
        keep_on_refusal(session)
        raise Conflict("refused", "不行")
    assert _nonces(db, "uow-counted") == 1


def test_after_commit_runs_only_once_committed(db):
    ran: list[str] = []
    with unit_of_work(db) as session:
        after_commit(session, lambda: ran.append("committed"))
        session.add(WechatNonce(nonce="uow-after", seen_at=utcnow()))
        assert ran == []
    assert ran == ["committed"]
    with pytest.raises(RuntimeError), unit_of_work(db) as session:
        after_commit(session, lambda: ran.append("rolled back"))
        raise RuntimeError("boom")
    assert ran == ["committed"]


def test_the_assistant_is_asked_with_no_transaction_open(client, db, monkeypatch):
    """The gateway's explicit steps: the resident's message is committed before Rasa is asked, so
    another unit of work (Rasa's action calling back into the platform) can write meanwhile."""
    seen: list[int] = []

    async def send(conversation_id: str, text: str, metadata: dict) -> list[dict]:  # the gateway awaits Rasa
        with unit_of_work(db) as other:  # would wait on a held SQLite lock / see nothing uncommitted
            seen.append(other.scalar(select(func.count()).select_from(WechatNonce)))
            other.add(WechatNonce(nonce="uow-during-rasa", seen_at=utcnow()))
        return [{"text": "好的"}]

    monkeypatch.setattr(rasa_client, "send_message", send)
    cid = client.post("/api/v1/conversations", json={"channel": "web_chat"}, headers=SERVICE).json()["id"]
    r = client.post(f"/api/v1/conversations/{cid}/messages", json={"text": "你好", "client_msg_id": "uow-1"},
                    headers=SERVICE)
    assert r.status_code == 200 and [e["text"] for e in r.json()["replies"]] == ["好的"]
    assert seen == [0] and _nonces(db, "uow-during-rasa") == 1


# ---------------------------------------------------------------- read-only units

def test_a_read_only_unit_cannot_write(db):
    with pytest.raises(DBAPIError), unit_of_work(db, read_only=True) as session:
        session.add(WechatNonce(nonce="uow-read-only", seen_at=utcnow()))
        session.flush()
    assert _nonces(db, "uow-read-only") == 0
    # The connection it used writes again in the next ordinary unit.
    with unit_of_work(db) as session:
        session.add(WechatNonce(nonce="uow-after-read-only", seen_at=utcnow()))
    assert _nonces(db, "uow-after-read-only") == 1


def test_readers_do_not_wait_for_a_writer(client, db):
    """While a unit of work holds the write lock (SQLite: BEGIN IMMEDIATE), a read-only unit and a
    read-only route (the catalog answer the assistant asks for) answer from what is committed instead
    of waiting for it (SQLite's busy timeout is 30 s)."""
    with unit_of_work(db) as writer:
        writer.add(WechatNonce(nonce="uow-being-written", seen_at=utcnow()))
        writer.flush()
        with unit_of_work(db, read_only=True) as reader:
            assert reader.scalar(select(func.count()).select_from(WechatNonce)
                                 .where(WechatNonce.nonce == "uow-being-written")) == 0
        code = client.get("/api/v1/services").json()["items"][0]["code"]
        r = client.get(f"/api/v1/services/{code}/answer")
        assert r.status_code == 200 and r.json()["code"] == code
    assert _nonces(db, "uow-being-written") == 1
