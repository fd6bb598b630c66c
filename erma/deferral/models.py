"""容缺 deferrals: the numbered form + pledge (一表一书) and the supplement deadline."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class Deferral(Base):
    __tablename__ = "deferrals"
    # Unsupplied deferrals by deadline: the dashboard counts those still inside their deadline
    # (erma/deferral/overdue.py deferral_owed_in_time) from these few entries, not from every deferral
    # ever opened (migration 0018).
    __table_args__ = (Index("ix_deferrals_unsupplied_deadline", "deadline", postgresql_include=["case_id"],
                            postgresql_where=text("supplied_at IS NULL"), sqlite_where=text("supplied_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    form_no: Mapped[str] = mapped_column(String(32), unique=True)  # 容缺快办审核表 number
    pledge_no: Mapped[str] = mapped_column(String(32), unique=True)  # 诚信背书单 number
    endorser_town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"))
    missing_materials: Mapped[list] = mapped_column(default=list)
    deadline: Mapped[dt.date]
    # open → supplied → closed (form and pledge reclaimed); open → overdue (escalated)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    supplied_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reclaimed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class DeferralFormCounter(Base):
    __tablename__ = "deferral_form_counters"

    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
