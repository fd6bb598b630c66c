"""Putting durable background work on the outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.outbox.models import OutboxMessage


def find(session: Session, dedupe_key: str) -> OutboxMessage | None:
    return session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))


def enqueue(session: Session, kind: str, dedupe_key: str, payload: dict, due_at: dt.datetime,
            sequence_key: str | None = None) -> OutboxMessage:
    """Add the message unless one with the same key exists (then return that one). Joins the caller's
    transaction: if the change that caused it rolls back, the message was never there."""
    existing = find(session, dedupe_key)
    if existing is not None:
        return existing
    msg = OutboxMessage(kind=kind, dedupe_key=dedupe_key, payload=payload, due_at=due_at, sequence_key=sequence_key)
    session.add(msg)
    return msg
