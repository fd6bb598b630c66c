"""The background worker: claims due outbox messages and runs their handlers exactly once.

Each message is claimed and processed in a transaction of its own, on both dialects:
- PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED LIMIT 1`, so several workers (and platform
  processes) never wait on each other and never take the same message;
- SQLite (one writer at a time, BEGIN IMMEDIATE): a conditional `UPDATE … WHERE status = 'pending'`
  that only one transaction can win.
The handler's writes and the "done" mark commit together. A crash (even SIGKILL) in the middle
rolls back that one message only, which stays pending; an external call whose answer never
arrived (a WeChat send) is therefore made again, and one that was answered is never repeated.

A kind may name a `prepare` step that runs before the claim with no transaction open (asking
Rasa, whose actions call back into the platform), and an `on_failed` hook that records, in the
transaction marking the message failed, what agents must know when the retries are exhausted.
Messages sharing a `sequence_key` are taken one at a time in id order.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time

from sqlalchemy import and_, exists, func, not_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from erma.calendar.sync import refresh as refresh_calendar
from erma.conversations.trackers import purge_trackers
from erma.dashboard.summary import refresh
from erma.db import utcnow
from erma.outbox.deferrals import KINDS as DEFERRAL_KINDS
from erma.outbox.kinds import MAX_ATTEMPTS, Kind
from erma.outbox.models import OutboxMessage
from erma.pushes.handlers import KINDS as PUSH_KINDS
from erma.unit_of_work import unit_of_work

log = logging.getLogger("erma.worker")

KINDS: dict[str, Kind] = {
    **DEFERRAL_KINDS,
    **PUSH_KINDS,
}
__all__ = ["KINDS", "MAX_ATTEMPTS", "refresh_dashboard", "run_forever", "run_once", "worker_id"]
DASHBOARD_REFRESH_SECONDS = 60.0
TRACKER_PURGE_SECONDS = 3600.0  # Rasa's old tracker events (erma/conversations/trackers.py)

_NOT_PREPARED = object()


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 15 * 2 ** attempts))


def _due(now: dt.datetime, horizon: int, only_id: int | None):
    earlier = aliased(OutboxMessage)
    blocked = exists().where(earlier.sequence_key == OutboxMessage.sequence_key, earlier.id < OutboxMessage.id,
                             earlier.status.in_(("pending", "processing")))
    query = select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now,
                                        OutboxMessage.id <= horizon,
                                        not_(and_(OutboxMessage.sequence_key.is_not(None), blocked)))
    if only_id is not None:
        query = query.where(OutboxMessage.id == only_id)
    return query.order_by(OutboxMessage.due_at, OutboxMessage.id).limit(1)


def _claim(session: Session, me: str, now: dt.datetime, horizon: int, only_id: int | None = None) -> OutboxMessage | None:
    """The next due message, claimed inside the session's (new) transaction; None when there is none."""
    query = _due(now, horizon, only_id)
    if session.get_bind().dialect.name == "postgresql":
        msg = session.scalars(query.with_for_update(skip_locked=True, of=OutboxMessage)).first()
    else:
        msg = session.scalars(query).first()
        if msg is not None:
            # (the ORM's default synchronisation also sets msg.status, so the final mark is always written)
            won = session.execute(update(OutboxMessage).where(OutboxMessage.id == msg.id,
                                                              OutboxMessage.status == "pending")
                                  .values(status="processing"))
            if won.rowcount != 1:
                return None
    if msg is not None:
        msg.claimed_by = me
    return msg


def _process(session: Session, msg: OutboxMessage, now: dt.datetime, prepared=_NOT_PREPARED) -> bool:
    kind = KINDS.get(msg.kind)
    try:
        with session.begin_nested():
            if kind is None:
                raise LookupError(f"no handler for {msg.kind}")
            if prepared is _NOT_PREPARED:
                kind.handle(session, msg.payload, now)
            else:
                kind.handle(session, msg.payload, now, prepared)
    except Exception as exc:  # noqa: BLE001 - any failure is retried later, never lost
        msg.attempts += 1
        msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        msg.due_at = now + _backoff(msg.attempts)
        limit = kind.max_attempts if kind else MAX_ATTEMPTS
        msg.status = "failed" if msg.attempts >= limit else "pending"
        log.warning("outbox %s (%s) failed, attempt %s: %s", msg.id, msg.kind, msg.attempts, msg.last_error)
        if msg.status == "failed" and kind is not None and kind.on_failed is not None:
            try:
                with session.begin_nested():
                    kind.on_failed(session, msg.payload, now, msg.last_error)
            except Exception:  # noqa: BLE001 - the failed mark must still be written
                log.exception("outbox %s (%s): recording the failure failed", msg.id, msg.kind)
        return False
    msg.status = "done"
    msg.done_at = now
    return True


def _next(factory: sessionmaker[Session], me: str, now: dt.datetime, horizon: int) -> int | None:
    """Claims and processes one message in its own unit of work: 1 done, 0 not done, None nothing due."""
    with unit_of_work(factory) as session:
        msg = _claim(session, me, now, horizon)
        if msg is None:
            return None
        kind = KINDS.get(msg.kind)
        if kind is None or kind.prepare is None:
            return int(_process(session, msg, now))
        # Let go of the claim while the slow call runs, then claim the same message again.
        msg_id, payload = msg.id, dict(msg.payload)
        session.rollback()
    try:
        prepared = kind.prepare(factory, payload, now)
    except Exception as exc:  # noqa: BLE001 - the handler decides whether this is a failure
        prepared = exc
    with unit_of_work(factory) as session:
        msg = _claim(session, me, now, horizon, only_id=msg_id)
        if msg is None:  # another worker finished it meanwhile
            return 0
        return int(_process(session, msg, now, prepared))


def run_once(factory: sessionmaker[Session], me: str | None = None, now: dt.datetime | None = None,
             batch: int = 20) -> int:
    """Processes up to `batch` messages that were due when the pass began (messages the handlers
    enqueue wait for the next pass); returns how many were handled successfully."""
    me = me or worker_id()
    now = now or utcnow()
    with unit_of_work(factory) as session:
        horizon = session.scalar(select(func.max(OutboxMessage.id)))
    if horizon is None:
        return 0
    done = 0
    for _ in range(batch):
        outcome = _next(factory, me, now, horizon)
        if outcome is None:
            break
        done += outcome
    return done


def refresh_dashboard(factory: sessionmaker[Session]) -> int:
    """Recompute the dashboard days whose cases changed, so the marks never pile up while nobody looks
    and a look finds little left to do. Returns the number of days recomputed."""
    with unit_of_work(factory) as session:
        return refresh(session)


def run_forever(factory: sessionmaker[Session], interval: float = 5.0) -> None:
    me = worker_id()
    log.info("outbox worker %s started", me)
    summarised = time.monotonic()
    purged = None
    while True:
        try:
            refresh_calendar(factory)  # admins' holiday overrides: deadlines computed here use them too
        except Exception:  # noqa: BLE001 - the calendar stays as last loaded; checked again next pass
            log.exception("reloading the holiday overrides failed")
        try:
            handled = run_once(factory, me)
        except Exception:  # noqa: BLE001 - keep the worker alive across database hiccups
            log.exception("outbox worker pass failed")
            handled = 0
        if time.monotonic() - summarised >= DASHBOARD_REFRESH_SECONDS:
            summarised = time.monotonic()
            try:
                refresh_dashboard(factory)
            except Exception:  # noqa: BLE001 - the dashboard refreshes itself when looked at anyway
                log.exception("dashboard summary refresh failed")
        if purged is None or time.monotonic() - purged >= TRACKER_PURGE_SECONDS:
            purged = time.monotonic()
            try:
                purge_trackers()
            except Exception:  # noqa: BLE001 - tried again within the hour
                log.exception("purging old Rasa tracker events failed")
        if not handled:  # after a busy pass, look again at once (its handlers may have enqueued more)
            time.sleep(interval)
