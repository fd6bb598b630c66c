"""Cases (办件), their history of stage changes, the conversations bound to them, and the daily case-number counter."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from erma.db import Base, utcnow


DASHBOARD_COLUMNS = ["id", "service_code", "stage", "visits", "expected_completion_date", "conversation_id"]


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_town_stage_created", "hukou_town_code", "stage", "created_at"),
        # The dashboard's live queries and staff case lists (migration 0006): on PostgreSQL these carry
        # the columns they read, so the wide rows (encrypted identity columns) are never touched.
        Index("ix_cases_created_at", "created_at", postgresql_include=["hukou_town_code", *DASHBOARD_COLUMNS]),
        Index("ix_cases_town_created", "hukou_town_code", "created_at", postgresql_include=DASHBOARD_COLUMNS),
        # An agent's open cases counted without reading their ended ones (least-loaded agent, migration 0017).
        Index("ix_cases_agent_stage", "agent_id", "stage"),
        # Cases past their promised date (erma/deferral/overdue.py), counted from the index (migration 0017);
        # on PostgreSQL it carries what the dashboard's live ages and lateness of the open cases read, so
        # those are an index-only scan of the open stages' entries (migration 0018).
        Index("ix_cases_stage_expected", "stage", "expected_completion_date",
              postgresql_include=["created_at", "hukou_town_code", "service_code"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(24), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("service_items.code"), index=True)

    applicant_name: Mapped[str] = mapped_column(String(64))
    # Identity data: encrypted, looked up by keyed hash, shown masked (PIPL Art. 51).
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(24))
    id_last4: Mapped[str] = mapped_column(String(4))
    # Finding a resident's cases without the case number (erma/status/service.py find_cases):
    # keyed hash of "last6:" + the ID number's last six characters (erma/status/keys.py).
    id_last6_hash: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    phone_enc: Mapped[str] = mapped_column(Text)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    phone_masked: Mapped[str] = mapped_column(String(16))
    phone_last4: Mapped[str] = mapped_column(String(4))

    hukou_town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"))
    hukou_village: Mapped[str | None] = mapped_column(String(64), nullable=True)
    current_location: Mapped[str | None] = mapped_column(String(128), nullable=True)
    intake_point_code: Mapped[str] = mapped_column(ForeignKey("intake_points.code"))
    channel: Mapped[str] = mapped_column(String(20))
    conversation_id: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)

    stage: Mapped[str] = mapped_column(String(32))
    stage_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    materials_have: Mapped[list] = mapped_column(default=list)
    materials_missing: Mapped[list] = mapped_column(default=list)
    visits: Mapped[int] = mapped_column(default=0)
    expected_completion_date: Mapped[dt.date]
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    events: Mapped[list["CaseEvent"]] = relationship(back_populates="case", order_by="CaseEvent.id")


class CaseEvent(Base):
    """Every change to a case: who, when, from, to, and a note."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_to_stage_at", "to_stage", "at", "case_id"),)  # completions by date

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # transition | assigned | visit | deficiency_notice | deferral | rating
    actor: Mapped[str] = mapped_column(String(64))  # "staff:<username>", "service", "system"
    actor_role: Mapped[str] = mapped_column(String(20))
    from_stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseNumberCounter(Base):
    __tablename__ = "case_number_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class CaseBinding(Base):
    """A conversation that may act on a case (rate it, see its status without the last four digits):
    the one that opened it, or one that proved ownership by a status lookup with the last four digits.
    The rule lives in erma/cases/ownership.py."""

    __tablename__ = "case_bindings"
    __table_args__ = (UniqueConstraint("case_id", "conversation_id", name="uq_case_bindings_case_conversation"),
                      Index("ix_case_bindings_channel_user", "channel", "external_user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # WeChat openid
    how: Mapped[str] = mapped_column(String(8))  # opened | proved
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MaterialReceipt(Base):
    """One material as it arrived: when, at which point, by whom, in which form, on which occasion.

    The case's materials (what it has, what it lacks) are read from these records
    (erma/cases/materials.py); `declared` is what a resident said online they have, not yet seen."""

    __tablename__ = "material_receipts"
    __table_args__ = (Index("ix_material_receipts_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    material: Mapped[str] = mapped_column(String(200))
    form: Mapped[str] = mapped_column(String(12))  # original | copy | declared
    occasion: Mapped[str] = mapped_column(String(20))  # intake | resubmission | collection | supplement
    intake_point_code: Mapped[str | None] = mapped_column(ForeignKey("intake_points.code"), nullable=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseVisit(Base):
    """One trip the resident made in person (handing in, supplementing, collecting a result), with its
    place. Online and agent-carried steps make none. 最多跑一次 is measured from these rows."""

    __tablename__ = "case_visits"
    __table_args__ = (Index("ix_case_visits_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    purpose: Mapped[str] = mapped_column(String(20))  # hand_in | supplement | collect_result
    intake_point_code: Mapped[str | None] = mapped_column(ForeignKey("intake_points.code"), nullable=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
