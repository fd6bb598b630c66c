"""What a resident's page sees of a conversation: its own transcript and who is answering.

Staff-only facts stay out: staff ids, the queue reason, internal system notes such as "the
assistant failed" or "a push could not be delivered" (those are for agents).
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from erma.conversations.models import Conversation, TranscriptEntry
from erma.db import as_utc
from erma.pii_refs.service import masker
from erma.staff.models import Staff

# System entries a resident is shown: owner changes, notices meant for them, and pushes about their cases.
RESIDENT_SYSTEM_KINDS = {"owner", "notice", "push"}
# Harmless facts from `meta` the page uses to draw an entry.
PUBLIC_META = ("from", "to", "case_no", "push_kind")


def visible_to_resident(entry: TranscriptEntry) -> bool:
    if entry.author != "system":
        return True
    return (entry.meta or {}).get("kind") in RESIDENT_SYSTEM_KINDS


def _agent(session: Session, staff_id: int | None) -> dict | None:
    staff = session.get(Staff, staff_id) if staff_id else None
    if staff is None:
        return None
    return {"name": staff.display_name, "credential_no": staff.credential_no}


def entry_view(session: Session, entry: TranscriptEntry, mask=None) -> dict:
    """ID numbers and phones show masked (`mask`: a pii_refs masker of the entry's conversation)."""
    mask = mask or masker(session, entry.conversation_id)
    meta = entry.meta or {}
    view = {"seq": entry.seq, "at": as_utc(entry.at).isoformat(), "author": entry.author, "text": mask(entry.text),
            "buttons": [{"title": b.get("title", ""), "payload": b.get("payload", "")}
                        for b in (entry.buttons or []) if isinstance(b, dict)],
            "client_msg_id": entry.client_msg_id, "reply_to_seq": entry.reply_to_seq,
            "kind": meta.get("kind") if entry.author == "system" else None}
    if entry.author == "system":
        view.update({k: meta[k] for k in PUBLIC_META if k in meta})
    if entry.author == "agent":
        view["agent"] = _agent(session, entry.agent_staff_id)
    return view


def entries_view(session: Session, entries: list[TranscriptEntry]) -> list[dict]:
    masks: dict = {}
    return [entry_view(session, e, masks.setdefault(e.conversation_id, masker(session, e.conversation_id)))
            for e in entries if visible_to_resident(e)]


def conversation_view(session: Session, conversation: Conversation) -> dict:
    """Who is answering. `as_of_seq`: every owner change writes a transcript entry in the same
    transaction, so of two readings the one with the larger `as_of_seq` is the newer one."""
    return {"state": conversation.state, "agent": _agent(session, conversation.assigned_staff_id),
            "as_of_seq": conversation.last_seq}
