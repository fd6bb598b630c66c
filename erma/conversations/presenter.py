"""The gateway's conversations and transcript entries as the HTTP API shows them (channels, the agents'
inbox and console)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from erma.conversations.handoff import REASON_TEXT
from erma.conversations.models import Conversation, TranscriptEntry
from erma.db import as_utc
from erma.places.models import Town
from erma.staff.models import Staff


def _iso(value) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def entry_view(entry: TranscriptEntry, mask) -> dict:
    """`mask` (pii_refs masker of the entry's conversation): ID numbers and phones show masked."""
    return {"seq": entry.seq, "at": _iso(entry.at), "author": entry.author, "text": mask(entry.text),
            "buttons": entry.buttons or [], "agent_staff_id": entry.agent_staff_id,
            "client_msg_id": entry.client_msg_id, "reply_to_seq": entry.reply_to_seq,
            # What kind of system entry this is (owner change, push, push_undeliverable…), for the agent console.
            "kind": (entry.meta or {}).get("kind")}


def conversation_view(session: Session, conversation: Conversation) -> dict:
    agent = session.get(Staff, conversation.assigned_staff_id) if conversation.assigned_staff_id else None
    town = session.get(Town, conversation.town_code) if conversation.town_code else None
    return {"id": conversation.id, "channel": conversation.channel, "state": conversation.state,
            "town": {"code": town.code, "name": town.name} if town else None,
            "agent": {"id": agent.id, "name": agent.display_name, "credential_no": agent.credential_no} if agent else None,
            "queue_reason": conversation.queue_reason,
            "queue_reason_text": REASON_TEXT.get(conversation.queue_reason) if conversation.queue_reason else None,
            "queued_at": _iso(conversation.queued_at),
            "last_seq": conversation.last_seq,
            "last_resident_message_at": _iso(conversation.last_resident_message_at),
            "created_at": _iso(conversation.created_at), "updated_at": _iso(conversation.updated_at)}
