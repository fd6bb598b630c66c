"""Database engine, sessions and the declarative base shared by every domain package."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from sqlalchemy import JSON, DateTime, TypeDecorator, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from erma.settings import get_settings


class UTCDateTime(TypeDecorator):
    """A moment in time, stored in UTC and always read back with its offset: SQLite keeps no zone, so
    without this a naive value would leave the API as `2026-12-05T23:39:04` and a China-time phone
    would read it 8 hours off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(self, value, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, list: JSON, dt.datetime: UTCDateTime()}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; every stored datetime is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _ensure_sqlite_folder(url: str) -> None:
    """A fresh clone has no `var/`: SQLite creates the file, not the folder it lives in."""
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


# The execution option that marks a read-only unit of work's connections (read_only_engine).
READ_ONLY = "erma_read_only"


def make_engine(url: str) -> Engine:
    # hide_parameters: a failed statement's message (and so any traceback that is logged) never
    # carries the values — applicants' names, villages, encrypted numbers.
    if url.startswith("sqlite"):
        _ensure_sqlite_folder(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            # WAL lets the worker and the web processes work side by side. synchronous=NORMAL: in WAL a
            # commit is not synced to disk until the next checkpoint, so a power cut (not a crash of
            # the process) may lose the last commits, never corrupt the file (docs/benchmarks.md).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Let SQLAlchemy, not pysqlite, control transactions (savepoints work then).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            read_only = bool(conn.get_execution_options().get(READ_ONLY))
            record = conn.connection.info  # the pooled DBAPI connection's: the pragma stays set on it
            if record.get(READ_ONLY, False) != read_only:
                # A read-only unit's write fails at once ("attempt to write a readonly database").
                conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
                record[READ_ONLY] = read_only
            # A writer: one at a time, decided at BEGIN, so no lock-upgrade failure mid-transaction. A
            # reader (which never upgrades) begins DEFERRED: in WAL it reads a snapshot beside the writer
            # instead of queueing behind it and holding every other writer back while it reads.
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # A web process runs up to 40 requests at once in its threadpool: 5 kept connections (the default)
    # made 8 clients open and close a PostgreSQL session for most requests, and a process that took over
    # a dead one's load ran out of connections (pool timeout). Two processes + the worker stay well
    # under PostgreSQL's 100.
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)

    @event.listens_for(engine, "begin")
    def _read_only_begin(conn):  # noqa: ANN001
        if conn.get_execution_options().get(READ_ONLY):
            # The transaction's first statement (psycopg begins it implicitly): a write in it fails.
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

    return engine


@lru_cache(maxsize=8)
def read_only_engine(engine: Engine) -> Engine:
    """The same engine and pool, for a unit of work that only reads (unit_of_work(read_only=True)):
    its transactions begin DEFERRED on SQLite and READ ONLY on PostgreSQL; a write in them fails."""
    return engine.execution_options(**{READ_ONLY: True})


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


# Applied to every sessionmaker get_sessionmaker makes (registered at start-up by erma.wiring: e.g. the
# dashboard summary's watcher, which marks the days a flush touches stale in the same transaction).
_FACTORY_HOOKS: list[Callable[[sessionmaker[Session]], None]] = []


def on_every_sessionmaker(hook: Callable[[sessionmaker[Session]], None]) -> None:
    """Apply `hook` to the platform's sessionmaker now (if made already) and to any made later, once per hook."""
    if hook in _FACTORY_HOOKS:
        return
    _FACTORY_HOOKS.append(hook)
    if get_sessionmaker.cache_info().currsize:
        hook(get_sessionmaker())


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    factory = sessionmaker(bind=get_engine(), expire_on_commit=False)
    for hook in _FACTORY_HOOKS:
        hook(factory)
    return factory
