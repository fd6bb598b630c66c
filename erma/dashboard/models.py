"""The dashboard's summary tables (erma/dashboard/summary.py keeps them true)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base


class CaseCounts:
    """Additive counts of a group of cases, per household town, item and current stage.

    Only counts that follow from the stored records alone; the ones that move with the clock are
    counted live (erma/dashboard/metrics.py)."""

    town_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)
    cases: Mapped[int]
    completed: Mapped[int]
    completed_on_time: Mapped[int]
    visits: Mapped[int]
    visits_le1: Mapped[int]
    deferrals: Mapped[int]
    deferrals_supplied: Mapped[int]
    supplied_on_time: Mapped[int]
    rating_1: Mapped[int]
    rating_2: Mapped[int]
    rating_3: Mapped[int]
    rating_4: Mapped[int]
    rating_5: Mapped[int]
    chat_cases: Mapped[int]
    handed_off: Mapped[int]
    # Ratings that came with the resident's words (Rating.comment not blank), and those of them that
    # are 差评 (levels 1 and 2). Added after the others (migration 0014), hence the server default.
    rating_comments: Mapped[int] = mapped_column(server_default="0")
    poor_rating_comments: Mapped[int] = mapped_column(server_default="0")
    # Cases with at least one recorded trip (erma/cases/models.py CaseVisit); 最多跑一次 is measured
    # over these only, the rest are 未记录 (migration 0015).
    visits_recorded: Mapped[int] = mapped_column(server_default="0")


class DayCounts(CaseCounts, Base):
    """The cases opened on one China date."""

    __tablename__ = "dashboard_day_counts"
    __table_args__ = (Index("ix_dashboard_day_counts_town_day", "town_code", "day"),)

    day: Mapped[dt.date] = mapped_column(primary_key=True, sort_order=-1)  # first: ranges of days


class MonthCounts(CaseCounts, Base):
    """The cases opened in one calendar month (China dates): the sum of its days' rows, so that a
    long range reads a row per month for its whole months instead of one per day."""

    __tablename__ = "dashboard_month_counts"

    month: Mapped[dt.date] = mapped_column(primary_key=True, sort_order=-1)  # its first day


class ConversationDay(Base):
    """Gateway conversations started on one China date, and how many of them went to a person."""

    __tablename__ = "dashboard_conversation_days"

    day: Mapped[dt.date] = mapped_column(primary_key=True, sort_order=-1)  # first: ranges of days
    conversations: Mapped[int]
    handed_off: Mapped[int]


class StaleDay(Base):
    """A China date whose cases or conversations changed after its summary was computed.

    A row per change (not one per day): the refresh removes exactly the rows it saw, so a change
    committed while it runs keeps its own mark for the next refresh."""

    __tablename__ = "dashboard_stale_days"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[dt.date] = mapped_column(index=True)
