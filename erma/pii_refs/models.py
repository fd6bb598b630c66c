"""An ID number or phone a resident typed, kept encrypted and named in the text by a reference."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow


class PiiReference(Base):
    __tablename__ = "pii_references"
    __table_args__ = (UniqueConstraint("conversation_id", "code", name="uq_pii_references_code"),
                      UniqueConstraint("conversation_id", "kind", "value_hash", name="uq_pii_references_value"))

    id: Mapped[int] = mapped_column(primary_key=True)
    # Scoped to one conversation: a reference means nothing anywhere else.
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # id_number | phone
    code: Mapped[str] = mapped_column(String(8))  # the part after '#', upper case
    value_enc: Mapped[str] = mapped_column(Text)  # pii.encrypt of the value as typed, separators removed
    value_hash: Mapped[str] = mapped_column(String(64))  # pii.keyed_hash: one reference per value
    masked: Mapped[str] = mapped_column(String(40))  # what transcripts and the assistant show
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
