"""好差评 ratings and the duty lead's follow-up tasks (回访, escalations)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)  # 一事一评
    level: Mapped[int]  # 5 非常满意 … 1 非常不满意
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    channel: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FollowUpTask(Base):
    __tablename__ = "followup_tasks"
    __table_args__ = (UniqueConstraint("kind", "case_id"),
                      Index("ix_followup_tasks_status_due", "status", "due_date", "id"))  # the paged list

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # bad_rating | deferral_overdue
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    due_date: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
