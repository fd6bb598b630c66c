"""The outbox: durable background work (reminders, escalations, pushes), claimed by workers."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),
                      Index("ix_outbox_sequence_status", "sequence_key", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Enqueueing the same key twice is a no-op: each reminder/escalation exists once.
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    payload: Mapped[dict] = mapped_column(default=dict)
    # Messages sharing a sequence key (e.g. everything sent to one WeChat user) are processed one at a
    # time in id order, whatever the number of workers: a resident reads them in the order they were sent.
    sequence_key: Mapped[str | None] = mapped_column(String(160), nullable=True)
    due_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
