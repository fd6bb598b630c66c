"""Household-town review opinions and one-time deficiency notices."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class ReviewOpinion(Base):
    __tablename__ = "review_opinions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    decision: Mapped[str] = mapped_column(String(16))  # approve | approve_deferral | return | reject
    opinion: Mapped[str] = mapped_column(Text)
    # 同意容缺: the deferrable materials the reviewer agreed may follow later.
    deferred_materials: Mapped[list | None] = mapped_column(nullable=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DeficiencyNotice(Base):
    """The one-time complete list of what is missing. seq > 1 is a repeat notice (a failure)."""

    __tablename__ = "deficiency_notices"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int]
    is_repeat: Mapped[bool] = mapped_column(default=False)
    materials: Mapped[list] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
