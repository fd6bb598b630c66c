"""Shared fixtures: a migrated database (SQLite by default, PostgreSQL when DATABASE_URL says so)
with the catalog, places and demo staff loaded, and an HTTP client on the real application."""
from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.orm import ORMExecuteState, Session

import erma.db as erma_db
import erma.models_registry  # noqa: F401 - every table in the metadata the cleanup reads
from erma.settings import get_settings

# The reference tables: what the county-data load (`python -m erma load`: catalog, places, staff, rota)
# writes at session start, recorded while it runs (the `reference_tables` fixture; pytest's own copy of
# this module holds them). Every other table of the metadata is cleaned after each test
# (volatile_tables), so a new table cannot leak rows from one test into the next.
REFERENCE_TABLES: set[str] = set()
ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "erma-demo-2026"
SERVICE = {"Authorization": "Bearer dev-service-token"}
# No background calendar check in tests: statements counted per request stay the request's own
# (edits reload the calendar in-process; tests/platform/test_calendar_overrides.py checks the version).
os.environ.setdefault("CALENDAR_POLL_SECONDS", "0")


def _reset_caches() -> None:
    get_settings.cache_clear()
    erma_db.get_engine.cache_clear()
    erma_db.get_sessionmaker.cache_clear()
    from erma import pii

    pii._keys.cache_clear()


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'erma-test.db'}"
        os.environ["DATABASE_URL"] = url
    return url


@pytest.fixture(scope="session")
def migrated(database_url: str):
    """A fresh schema built by the Alembic migrations, with the county data loaded."""
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        path = Path(database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    _reset_caches()
    from erma.__main__ import load, migrate
    from erma.wiring import wire

    wire()  # as create_app and the worker do: the events' listeners, the dashboard's watcher
    migrate()
    with tables_written() as written:
        load()
    REFERENCE_TABLES.update(written)
    yield database_url
    erma_db.get_engine().dispose()


def reload_county_data() -> None:
    """After a test walked the migrations down and up again: columns added since (e.g. the counter
    clerks' intake points, 0015) came back empty, so the county data is loaded again as at start."""
    from erma.__main__ import load

    erma_db.get_engine().dispose()
    load()


@contextmanager
def tables_written() -> Iterator[set[str]]:
    """The names of the tables any ORM session adds to, changes or deletes from inside the block."""
    written: set[str] = set()

    def after_flush(session: Session, _context) -> None:
        written.update(obj.__table__.name for obj in (*session.new, *session.dirty, *session.deleted))

    def on_execute(state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            written.add(state.statement.table.name)

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "do_orm_execute", on_execute)
    try:
        yield written
    finally:
        event.remove(Session, "do_orm_execute", on_execute)
        event.remove(Session, "after_flush", after_flush)


def volatile_tables(reference: set[str], metadata: MetaData = erma.models_registry.metadata) -> list[str]:
    """Every table but the reference ones, children before the tables they point to."""
    assert reference, "the county data was not loaded yet (the `migrated` fixture records what it writes)"
    return [t.name for t in reversed(metadata.sorted_tables) if t.name not in reference]


def clean_volatile(session: Session, reference: set[str], metadata: MetaData = erma.models_registry.metadata) -> None:
    for table in volatile_tables(reference, metadata):
        session.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def reference_tables(migrated) -> frozenset[str]:
    return frozenset(REFERENCE_TABLES)


@pytest.fixture
def db(migrated, reference_tables):
    """A sessionmaker on the test database; case data is wiped after each test."""
    factory = erma_db.get_sessionmaker()
    yield factory
    with factory() as session, session.begin():
        clean_volatile(session, reference_tables)


@pytest.fixture
def client(db):
    from fastapi.testclient import TestClient

    from erma.app import create_app

    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def login(client):
    tokens: dict[str, dict] = {}

    def headers(username: str) -> dict:
        if username not in tokens:
            r = client.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            tokens[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return tokens[username]

    return headers


def holder(case_no: str) -> str:
    """The username of the agent holding the case: only they move it on (erma.cases.stages.HOLDER)."""
    from sqlalchemy import select

    from erma.cases.models import Case
    from erma.staff.models import Staff

    with erma_db.get_sessionmaker()() as session:
        return session.scalar(select(Staff.username).join(Case, Case.agent_id == Staff.id)
                              .where(Case.case_no == case_no.upper()))


VALID_ID = "513223198001010011"
VALID_PHONE = "13812345678"


@functools.cache
def required_materials(code: str) -> list[str]:
    """The item's required materials, from the catalog file the platform loads."""
    from erma.catalog.loader import load_catalog

    item = next((i for i in load_catalog(ROOT / "catalog" / "services.yaml") if i.code == code), None)
    return [m.name for m in item.materials if m.required] if item else []


def case_body(**overrides) -> dict:
    """A valid application; by default the resident says they have every required material (the
    review and stage gates need them), unless `materials_have` says otherwise."""
    body = {"service_code": "MX-001", "applicant_name": "杨子妹", "id_number": VALID_ID, "phone": VALID_PHONE,
            "hukou_town": "赤不苏镇", "hukou_village": "雅都村", "current_location": "成都",
            "intake_point": "online", "channel": "web_chat", "conversation_id": "conv-1",
            # Most tests open many cases for one applicant and item; the repeat check has its own tests.
            "repeat_confirmed": True}
    body.update(overrides)
    body.setdefault("materials_have", required_materials(body["service_code"]))
    return body


@pytest.fixture
def open_case(client):
    counter = {"n": 0}

    def make(**overrides) -> dict:
        counter["n"] += 1
        r = client.post("/api/v1/cases", json=case_body(**overrides),
                        headers={**SERVICE, "Idempotency-Key": f"fixture-{counter['n']}-{os.getpid()}"})
        assert r.status_code == 201, r.text
        return r.json()

    return make
