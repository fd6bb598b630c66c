"""Notices: messages for residents and staff produced by the rules (stage changes, reminders,
escalations, results, what could not be delivered).

The pushes deliver resident notices (erma/pushes/service.py); staff notices show in the consoles.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True, nullable=True)
    audience: Mapped[str] = mapped_column(String(16))  # resident | staff
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
