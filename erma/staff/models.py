"""Staff accounts (reviewers, agents, duty leads, admins), their signed-in sessions, failed
sign-ins, and the duty-lead rota."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base
from erma.kept_rows import keep_loaded


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(20), index=True)  # one of erma.permissions.STAFF_ROLES
    # Towns the account works for; reviewers and agents are scoped to them.
    town_codes: Mapped[list] = mapped_column(default=list)
    # The counter an account works at (counter clerks; agents who also take walk-ins). An intake point's
    # code, checked when an admin sets it; no foreign key so that adding the column never rebuilds the
    # staff table that so many rows point at (SQLite).
    intake_point_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    credential_no: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(String(255), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(16), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)


# A case's agent is read by key several times in one request (assignment, the views): kept once loaded.
keep_loaded(Staff)


class DutyRota(Base):
    __tablename__ = "duty_rota"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]


class StaffSession(Base):
    """One sign-in (a browser or an API client). The signed token carries the random key; only its
    hash is stored, so the table alone opens nothing. Revoked on sign-out and on account changes."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token's key
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


class SignInFailure(Base):
    """A failed staff sign-in, counted per username and per client address to slow down guessing."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))  # "user:<username>" or "client:<address>"
    at: Mapped[dt.datetime] = mapped_column(index=True)

    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)
