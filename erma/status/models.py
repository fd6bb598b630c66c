"""Failed status lookups, kept to slow down guessing of case numbers and digits."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class StatusLookupFailure(Base):
    __tablename__ = "status_lookup_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), index=True)  # "case:<no>", "conversation:<id>" or "client:<addr>"
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
