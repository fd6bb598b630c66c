"""The service_items table: the validated catalog, editable later by county admins."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow
from erma.kept_rows import keep_loaded


class ServiceItem(Base):
    __tablename__ = "service_items"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(128))
    rongque_listed: Mapped[bool] = mapped_column(default=False)
    # The full validated item (ServiceItemSpec as JSON): materials, phrasings, guide …
    data: Mapped[dict]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Read by key many times in one request (erma/catalog/service.py get_item): kept once loaded.
keep_loaded(ServiceItem)
