"""Keeping every process's working calendar in step with the admins' holiday overrides.

Date arithmetic runs deep inside case and 容缺 code with no session at hand, so the overrides live in
memory (erma.working_days.install_admin_overrides). A process loads them when it starts, reloads at once
after its own edit, and a background thread compares a cheap version every few seconds, so an edit made in
another process (a second web process, the worker) arrives there too — never inside a request.
"""
from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from erma.calendar.models import CalendarOverride, CalendarYear
from erma.db import get_sessionmaker
from erma.unit_of_work import unit_of_work
from erma.working_days import AdminOverrides, admin_overrides_version, install_admin_overrides

log = logging.getLogger(__name__)

OVERRIDE_ENTITY = "calendar_override"  # admin audit entities
YEAR_ENTITY = "calendar_year"
CHECK_SECONDS = 5.0

_lock = threading.Lock()
_checked_at: float | None = None


def version(session: Session) -> tuple:
    """Changes with every edit: rows are stamped on each change, and a deletion changes the count."""
    overrides = session.execute(select(func.count(), func.max(CalendarOverride.updated_at))).one()
    years = session.execute(select(func.count(), func.max(CalendarYear.updated_at))).one()
    return (*overrides, *years)


def year_sources(session: Session) -> dict[int, str]:
    return {row.year: row.source for row in session.scalars(select(CalendarYear)) if row.source.strip()}


def load(session: Session) -> None:
    """Read the overrides and put them in front of this process's calendar."""
    current = version(session)
    days = {row.day: row.kind == "working" for row in session.scalars(select(CalendarOverride))}
    install_admin_overrides(AdminOverrides(days, year_sources(session), current))


def refresh(factory: sessionmaker[Session] | None = None, *, force: bool = False) -> None:
    """Reload when another process changed the overrides; looks at most every CHECK_SECONDS."""
    global _checked_at
    now = time.monotonic()
    with _lock:
        if not force and _checked_at is not None and now - _checked_at < CHECK_SECONDS:
            return
        _checked_at = now
    _check(factory or get_sessionmaker(), force)


def _check(factory: sessionmaker[Session], force: bool) -> None:
    with unit_of_work(factory) as session:  # reads only
        if force or version(session) != admin_overrides_version():
            load(session)


def _poll(factory: sessionmaker[Session], interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            _check(factory, False)
        except Exception:  # noqa: BLE001 - a failed check keeps the calendar as it was; tried again soon
            log.exception("reloading the holiday overrides failed")


def keep_fresh(interval: float = CHECK_SECONDS) -> None:
    """Load now and check in the background every `interval` seconds (0: load only). Called at start-up."""
    refresh(force=True)
    if interval > 0:
        threading.Thread(target=_poll, args=(get_sessionmaker(), interval), name="calendar-sync",
                         daemon=True).start()
