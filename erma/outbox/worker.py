"""The background worker: claims due outbox messages and runs their handlers exactly once.

Safe with several worker or platform processes: on PostgreSQL rows are claimed with
SELECT … FOR UPDATE SKIP LOCKED; on SQLite (one writer at a time) each message is claimed by a
conditional UPDATE that only one transaction can win. The handler's writes and the "done" mark
commit together, so a crash leaves the message pending for a retry, never half done.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from erma.db import utcnow
from erma.deferral.scheduled import handle_overdue, handle_reminder
from erma.outbox.models import OutboxMessage

log = logging.getLogger("erma.worker")

Handler = Callable[[Session, dict, dt.datetime], None]
HANDLERS: dict[str, Handler] = {
    "deferral_reminder": handle_reminder,
    "deferral_overdue": handle_overdue,
}
MAX_ATTEMPTS = 8


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 15 * 2 ** attempts))


def _process(session: Session, msg: OutboxMessage, now: dt.datetime) -> bool:
    handler = HANDLERS.get(msg.kind)
    try:
        with session.begin_nested():
            if handler is None:
                raise LookupError(f"no handler for {msg.kind}")
            handler(session, msg.payload, now)
    except Exception as exc:  # noqa: BLE001 - any failure is retried later, never lost
        msg.attempts += 1
        msg.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        msg.status = "failed" if msg.attempts >= MAX_ATTEMPTS else "pending"
        msg.due_at = now + _backoff(msg.attempts)
        log.warning("outbox %s (%s) failed, attempt %s: %s", msg.id, msg.kind, msg.attempts, msg.last_error)
        return False
    msg.status = "done"
    msg.done_at = now
    return True


def run_once(factory: sessionmaker[Session], me: str | None = None, now: dt.datetime | None = None,
             batch: int = 20) -> int:
    """Process due messages once; returns how many were handled successfully."""
    me = me or worker_id()
    now = now or utcnow()
    due = (select(OutboxMessage).where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now)
           .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(batch))
    done = 0
    with factory() as session:
        if session.get_bind().dialect.name == "postgresql":
            with session.begin():
                for msg in session.scalars(due.with_for_update(skip_locked=True)).all():
                    msg.claimed_by = me
                    done += _process(session, msg, now)
            return done
        ids = session.scalars(due.with_only_columns(OutboxMessage.id)).all()
        session.rollback()
    for msg_id in ids:
        with factory() as session, session.begin():
            claimed = session.execute(update(OutboxMessage)
                                      .where(OutboxMessage.id == msg_id, OutboxMessage.status == "pending")
                                      .values(status="processing", claimed_by=me))
            if claimed.rowcount != 1:
                continue  # another worker took it
            msg = session.get(OutboxMessage, msg_id)
            done += _process(session, msg, now)
    return done


def run_forever(factory: sessionmaker[Session], interval: float = 5.0) -> None:
    me = worker_id()
    log.info("outbox worker %s started", me)
    while True:
        try:
            run_once(factory, me)
        except Exception:  # noqa: BLE001 - keep the worker alive across database hiccups
            log.exception("outbox worker pass failed")
        time.sleep(interval)
