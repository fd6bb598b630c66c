"""Writing a conversation's transcript and changing its owner: the two statements every gateway step
goes through (erma/conversations/service.py has the concurrency rules they keep).

- `append_entry`: `UPDATE conversations SET last_seq = last_seq + 1 … RETURNING` numbers the entry and
  locks the conversation row until commit, so `seq` order is commit order.
- `change_owner`: a conditional `UPDATE … WHERE state = <expected>` whose rowcount decides who won, plus
  the system entry that says so.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from erma.conversations.models import Conversation, TranscriptEntry
from erma.errors import NotFound


def current_state(session: Session, conversation_id: str) -> str:
    state = session.scalar(select(Conversation.state).where(Conversation.id == conversation_id))
    if state is None:
        raise NotFound("conversation_not_found", "没有找到这个会话")
    return state


def append_entry(session: Session, conversation_id: str, author: str, text: str, *, now: dt.datetime,
                 buttons: list | None = None, agent_staff_id: int | None = None, client_msg_id: str | None = None,
                 reply_to_seq: int | None = None, meta: dict | None = None, only_if=None,
                 **conversation_values) -> tuple[TranscriptEntry | None, str | None]:
    """Adds one entry with the next seq; returns (entry, the conversation's state at that moment).

    `only_if` is an extra condition on the conversation row (e.g. `Conversation.state == "bot"`: the
    assistant never writes over an agent); when it does not hold nothing is written and (None, None)
    comes back."""
    stmt = (update(Conversation).where(Conversation.id == conversation_id)
            .values(last_seq=Conversation.last_seq + 1, updated_at=now, **conversation_values)
            .returning(Conversation.last_seq, Conversation.state)
            .execution_options(synchronize_session=False))
    if only_if is not None:
        stmt = stmt.where(only_if)
    row = session.execute(stmt).first()
    if row is None:
        return None, None
    entry = TranscriptEntry(conversation_id=conversation_id, seq=row[0], at=now, author=author, text=text,
                            buttons=buttons or None, agent_staff_id=agent_staff_id, client_msg_id=client_msg_id,
                            reply_to_seq=reply_to_seq, meta=meta)
    session.add(entry)
    session.flush()
    return entry, row[1]


def change_owner(session: Session, conversation_id: str, from_state: str, to_state: str, text: str, *,
                 actor: str, now: dt.datetime, staff_id: int | None = None, condition=None,
                 extra: dict | None = None, **values) -> TranscriptEntry | None:
    """The conditional UPDATE every owner change goes through, plus its system transcript entry
    (returned; None when the conversation was not in `from_state` or the condition failed)."""
    stmt = (update(Conversation).where(Conversation.id == conversation_id, Conversation.state == from_state)
            .values(state=to_state, updated_at=now, **values).execution_options(synchronize_session=False))
    if condition is not None:
        stmt = stmt.where(condition)
    if session.execute(stmt).rowcount != 1:
        return None
    entry, _ = append_entry(session, conversation_id, "system", text, now=now, agent_staff_id=staff_id,
                            meta={"kind": "owner", "from": from_state, "to": to_state, "actor": actor,
                                  **(extra or {})})
    return entry
