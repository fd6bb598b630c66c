"""Which conversation a resident's push goes to: "the channel they last used".

The conversations linked to the resident are those their cases were opened from (the case's own,
and those of the applicant's other cases, found by the ID number's keyed hash), plus the later
conversations of the same channel user (a closed WeChat conversation is followed by a new one for
the same openid). Of these, the one with the latest resident message wins.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.conversations.models import Conversation
from erma.db import as_utc

_NEVER = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def linked_conversations(session: Session, case: Case) -> list[Conversation]:
    ids = set(session.scalars(select(Case.conversation_id).where(Case.id_number_hash == case.id_number_hash,
                                                                  Case.conversation_id.is_not(None))))
    if case.conversation_id:
        ids.add(case.conversation_id)
    if not ids:
        return []
    found = {c.id: c for c in session.scalars(select(Conversation).where(Conversation.id.in_(sorted(ids))))}
    users = {(c.channel, c.external_user_id) for c in found.values() if c.external_user_id}
    if users:
        same_user = or_(*(and_(Conversation.channel == channel, Conversation.external_user_id == user)
                          for channel, user in sorted(users)))
        found.update({c.id: c for c in session.scalars(select(Conversation).where(same_user))})
    return list(found.values())


def last_used(session: Session, case: Case) -> Conversation | None:
    """The linked conversation with the latest resident message (None: the resident has none)."""
    conversations = linked_conversations(session, case)
    if not conversations:
        return None
    return max(conversations, key=lambda c: (as_utc(c.last_resident_message_at) or _NEVER,
                                             as_utc(c.created_at) or _NEVER, c.id))
