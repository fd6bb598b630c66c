"""The admin audit trail: who changed what, when, and the values before and after."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class AdminAudit(Base):
    __tablename__ = "admin_audit"
    __table_args__ = (Index("ix_admin_audit_entity", "entity", "entity_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64))  # "staff:<username>"
    entity: Mapped[str] = mapped_column(String(32))  # service_item | staff | town_alias
    entity_key: Mapped[str] = mapped_column(String(64))  # MX-013 | agent-chibusu-3 | 永和乡
    action: Mapped[str] = mapped_column(String(32))  # update | create | deactivate | activate | reset_password | delete
    summary: Mapped[str] = mapped_column(Text)  # one Chinese sentence for the audit list
    # Field values before and after (never passwords or their hashes; phones masked).
    before: Mapped[dict | None] = mapped_column(nullable=True)
    after: Mapped[dict | None] = mapped_column(nullable=True)
