"""Which conversation a case's push goes to: the case's own, never one found through the ID number.

The conversation that opened the case (its `opened` binding, erma/cases/ownership.py) gets its
pushes. For a channel user (a WeChat openid) a closed conversation is followed by a new one for
the same openid: the push goes to their open conversation, or to their latest when all are closed.
Anybody may type somebody else's ID number into an application, so conversations of other cases
with the same ID number, and conversations that only proved ownership with the last four digits,
never receive the case's pushes.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.ownership import opener
from erma.conversations.models import Conversation


def push_conversation(session: Session, case: Case) -> Conversation | None:
    """The conversation the case's pushes go to; None when the case has none (e.g. a counter case)."""
    binding = opener(session, case)
    if binding is None:
        return None
    if binding.external_user_id:
        same_user = select(Conversation).where(Conversation.channel == binding.channel,
                                               Conversation.external_user_id == binding.external_user_id)
        latest = session.scalar(same_user.order_by((Conversation.state == "closed").asc(),
                                                   Conversation.created_at.desc(), Conversation.id.desc()).limit(1))
        if latest is not None:
            return latest
    return session.get(Conversation, binding.conversation_id)
