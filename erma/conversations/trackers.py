"""Rasa's tracker store keeps every event of every conversation (what was said, slots, entities);
this purges events older than the retention period, so nothing residents said stays there for good.

The gateway already keeps ID numbers and phones out of Rasa (pii_refs), but names, villages and
what residents wrote about their lives are in the events too. Rasa's SQLite tracker store
(`endpoints.yml` → `tracker_store`, `var/rasa_tracker.db`) holds one table, `events`, with a
`timestamp` in Unix seconds; events older than `ERMA_TRACKER_RETENTION_DAYS` (default 30) are
deleted with SQLite's `secure_delete` on, so the freed pages are overwritten, not just unlinked.
Run by the outbox worker every hour and by `python -m erma purge-trackers`. `ERMA_TRACKER_DB`
names another file. `ERMA_TRACKER_URL` (a SQLAlchemy URL) names a tracker store on a database server
instead (the scaled set-up's PostgreSQL): the same rows are deleted there and the table vacuumed.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import yaml
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from erma.settings import ROOT

log = logging.getLogger("erma.trackers")

DEFAULT_RETENTION_DAYS = 30


def retention_days() -> int:
    raw = os.environ.get("ERMA_TRACKER_RETENTION_DAYS", "")
    try:
        days = int(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        log.warning("ERMA_TRACKER_RETENTION_DAYS is not a whole number; using %s", DEFAULT_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS
    return max(1, days)


def tracker_db_path() -> Path | None:
    """`ERMA_TRACKER_DB`, else the SQLite file endpoints.yml names (None when it names no SQLite file)."""
    explicit = os.environ.get("ERMA_TRACKER_DB")
    if explicit:
        return Path(explicit) if Path(explicit).is_absolute() else ROOT / explicit
    try:
        store = (yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8")) or {}).get("tracker_store") or {}
    except (OSError, yaml.YAMLError):
        return None
    if str(store.get("dialect", "")).lower() != "sqlite" or not store.get("db"):
        return None
    path = Path(str(store["db"]))
    return path if path.is_absolute() else ROOT / path


def tracker_store_url(path: Path | None = None) -> str | None:
    """The store the purge works on, as a SQLAlchemy URL: `ERMA_TRACKER_URL` (a database server), else the
    SQLite file (`path`, `ERMA_TRACKER_DB` or endpoints.yml) when it exists. None: nothing to purge."""
    if path is None and os.environ.get("ERMA_TRACKER_URL"):
        return os.environ["ERMA_TRACKER_URL"]
    path = path if path is not None else tracker_db_path()
    return f"sqlite:///{path}" if path is not None and path.exists() else None


def describe_url(url: str) -> str:
    """The store for messages and logs: a SQLite file's path, else the URL without its password."""
    parsed = make_url(url)
    return str(parsed.database) if parsed.get_backend_name() == "sqlite" else parsed.render_as_string(hide_password=True)


def purge_trackers(path: Path | None = None, days: int | None = None, now: dt.datetime | None = None,
                   url: str | None = None) -> int:
    """Deletes tracker events older than `days` from `url` (else `tracker_store_url(path)`); returns how many.
    A missing file or table is nothing to do."""
    url = url or tracker_store_url(path)
    if url is None:
        return 0
    cutoff = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=days or retention_days())
    sqlite = make_url(url).get_backend_name() == "sqlite"
    # Rasa's database, not the platform's (so not erma.unit_of_work): one transaction for the delete.
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30} if sqlite else {})
    try:
        with engine.begin() as conn:
            if not inspect(conn).has_table("events"):  # Rasa has not created its table yet
                return 0
            if sqlite:  # the deleted rows' pages are overwritten, not just unlinked
                conn.exec_driver_sql("PRAGMA secure_delete = ON")
            deleted = conn.execute(text("DELETE FROM events WHERE timestamp < :cutoff"),
                                   {"cutoff": cutoff.timestamp()}).rowcount
        if deleted:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                # SQLite's store is in WAL (rasa_plugins/tracker_store.py): the zeroed pages reach the file at a
                # checkpoint, so take one now. PostgreSQL has no secure_delete: VACUUM frees the dead rows'
                # space for new rows now instead of when autovacuum comes by.
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)" if sqlite else "VACUUM events")
    finally:
        engine.dispose()
    if deleted:
        log.info("purged %s tracker events older than %s from %s", deleted, cutoff.date().isoformat(),
                 describe_url(url))
    return deleted
