"""The web chat's brake on scripts flooding a conversation (a person types a few messages a minute)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.conversations.models import TranscriptEntry
from erma.db import utcnow
from erma.errors import TooManyRequests

MESSAGES_PER_MINUTE = 20


def limit_messages(session: Session, conversation_id: str, client_msg_id: str) -> None:
    """Refuses a new message beyond MESSAGES_PER_MINUTE; a retry of a stored message is neither limited
    nor re-checked."""
    stored = session.scalar(select(TranscriptEntry.id).where(TranscriptEntry.conversation_id == conversation_id,
                                                             TranscriptEntry.client_msg_id == client_msg_id))
    if stored is not None:
        return
    since = utcnow() - dt.timedelta(minutes=1)
    recent = session.scalar(select(func.count(TranscriptEntry.id)).where(
        TranscriptEntry.conversation_id == conversation_id, TranscriptEntry.author == "resident",
        TranscriptEntry.at >= since))
    if recent >= MESSAGES_PER_MINUTE:
        raise TooManyRequests("too_many_messages", "您发得太快了，请稍等一会儿再发", retry_after=30)
