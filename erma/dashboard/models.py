"""The dashboard's summary tables (erma/dashboard/summary.py keeps them true)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base


class CountColumns:
    """Additive counts of a group of cases.

    Only counts that follow from the stored records alone; the ones that move with the clock are
    counted live (erma/dashboard/metrics.py)."""

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
    # Deferrals whose materials are still owed (erma.deferral.overdue.deferral_owed), whatever the
    # deadline: the dashboard subtracts the ones still in time, counted live (migration 0018).
    deferrals_owed: Mapped[int] = mapped_column(server_default="0")


class CaseCounts(CountColumns):
    """The counts per household town, item and current stage."""

    town_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32), primary_key=True)


class DayCounts(CaseCounts, Base):
    """The cases opened on one China date."""

    __tablename__ = "dashboard_day_counts"
    __table_args__ = (Index("ix_dashboard_day_counts_town_day", "town_code", "day"),)

    day: Mapped[dt.date] = mapped_column(primary_key=True, sort_order=-1)  # first: ranges of days


class SpanCounts(CountColumns, Base):
    """The cases opened in one span of China dates — a day, a dekad (the 1st–10th, 11th–20th, 21st–end
    of a month), a month, a quarter or a year — per household town and item, with the current stages
    as columns: the sums of the day rows below it (erma/dashboard/summary.py). A range of dates is read
    as the fewest whole spans that tile it, so a year's view sums about 20 spans × (towns × items)
    rows whatever the number of cases, where day and month rows per stage grew with them (migration 0018)."""

    __tablename__ = "dashboard_span_counts"

    span: Mapped[str] = mapped_column(String(8), primary_key=True, sort_order=-2)  # summary.SPANS
    first_day: Mapped[dt.date] = mapped_column(primary_key=True, sort_order=-1)
    town_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    # Cases by current stage (erma.cases.stages.Stage; summary.STAGE_COLUMNS checks every stage has one).
    stage_received: Mapped[int]
    stage_town_review: Mapped[int]
    stage_returned_for_correction: Mapped[int]
    stage_rejected: Mapped[int]
    stage_approved: Mapped[int]
    stage_deferral_accepted: Mapped[int]
    stage_at_department: Mapped[int]
    stage_completed: Mapped[int]
    stage_delivered: Mapped[int]
    stage_rated: Mapped[int]
    stage_followed_up: Mapped[int]
    stage_withdrawn: Mapped[int]
    stage_terminated: Mapped[int]


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
