"""Holiday overrides edited by county admins on the admin page: they win over the holiday library
and over catalog/calendar_overrides.yaml (erma/working_days.py)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class CalendarOverride(Base):
    __tablename__ = "calendar_overrides"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | working
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CalendarYear(Base):
    """A year whose official holiday arrangement an admin entered in full, and the notice it comes from.
    A year without a source (here, in the YAML file or in the holiday library) is provisional."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
