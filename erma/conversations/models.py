"""Gateway conversations and their transcripts.

The platform owns who is answering a resident (design §1 "The platform is the gateway"):
the assistant (`bot`), nobody yet (`queued` for a person), an agent (`agent`), or nobody
(`closed`). Every message in and out, and every change of owner, is a transcript entry
numbered per conversation (`seq`), so a reconnecting client asks for `after_seq` and gets
exactly what it has not seen.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erma.db import Base, utcnow

CHANNELS = ("web_chat", "wechat")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_state_queued_at", "state", "queued_at"),
                      Index("ix_conversations_created_at", "created_at", "id"),  # the dashboard's range
                      Index("ix_conversations_channel_user", "channel", "external_user_id"))

    # Also the Rasa sender id and the `conversation_id` cases and handoffs refer to.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # web_chat | wechat
    external_user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)  # e.g. WeChat openid
    state: Mapped[str] = mapped_column(String(16), default="bot")  # bot | queued | agent | closed
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    town_code: Mapped[str | None] = mapped_column(ForeignKey("towns.code"), index=True, nullable=True)
    queue_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    queued_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    # Per-conversation counter handing out transcript `seq` numbers (incremented by a row-locking UPDATE).
    last_seq: Mapped[int] = mapped_column(default=0)
    last_resident_message_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TranscriptEntry(Base):
    __tablename__ = "transcript_entries"
    __table_args__ = (UniqueConstraint("conversation_id", "seq", name="uq_transcript_conversation_seq"),
                      UniqueConstraint("conversation_id", "client_msg_id", name="uq_transcript_conversation_client_msg"))

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    seq: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(16))  # resident | assistant | agent | system
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[list | None] = mapped_column(nullable=True)  # [{"title", "payload"}]
    agent_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    # Set by the sender (channel adapter, web client, agent console) to make re-sends harmless.
    client_msg_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The resident entry an assistant/system reply answers (a re-sent message gets these back).
    reply_to_seq: Mapped[int | None] = mapped_column(nullable=True)
    # Structured facts about system entries, e.g. {"kind": "owner", "from": "bot", "to": "queued", "actor": "..."}.
    meta: Mapped[dict | None] = mapped_column(nullable=True)


class HandoffRequest(Base):
    """A request to hand the conversation to a person (erma/conversations/handoff.py). Whether it is
    still open is not stored: it is the conversation's latest request while the conversation is
    queued or with an agent (`handoff.request_state`), so it can never disagree with the owner."""
    __tablename__ = "handoff_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
