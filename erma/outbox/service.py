"""Putting durable background work on the outbox."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.outbox.models import OutboxMessage


def enqueue(session: Session, kind: str, dedupe_key: str, payload: dict, due_at: dt.datetime) -> OutboxMessage:
    """Add the message unless one with the same key exists (then return that one)."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    msg = OutboxMessage(kind=kind, dedupe_key=dedupe_key, payload=payload, due_at=due_at)
    session.add(msg)
    return msg
