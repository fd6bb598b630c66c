"""Handing a conversation to a person: the request is recorded, the conversation is queued for its
town's agents, and the resident is told the expected wait or the office hours.

A request is open while its conversation is queued or with an agent, and then it is the conversation's
latest request (a new one is recorded only when none is open). Its state is read from the conversation
(`request_state`), never stored beside it: taking, handing back and closing the conversation change
one row only.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.conversations.models import Conversation, HandoffRequest
from erma.conversations.transcript import change_owner, current_state
from erma.county_data import in_office_hours, office_hours_text
from erma.db import utcnow
from erma.errors import NotFound
from erma.places.models import Town

REASONS = {"requested", "fallback", "form_abandoned"}
REASON_TEXT = {"requested": "居民要求转人工", "fallback": "助手没能听懂", "form_abandoned": "填表中途放弃",
               "assistant_unavailable": "智能助手不可用"}
# The open request's state, by its conversation's owner; any other owner means the request is closed.
REQUEST_STATE = {"queued": "queued", "agent": "taken"}


def _latest_request(session: Session, conversation_id: str) -> HandoffRequest | None:
    return session.scalar(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id)
                          .order_by(HandoffRequest.id.desc()).limit(1))


def request_state(session: Session, conversation_id: str) -> str | None:
    """queued | taken | closed for the conversation's latest handoff request; None when it has none."""
    if _latest_request(session, conversation_id) is None:
        return None
    return REQUEST_STATE.get(current_state(session, conversation_id), "closed")


def _town_for(session: Session, conversation_id: str, explicit: str | None) -> str | None:
    """The town a queued conversation belongs to: named by the handoff, else the resident's latest case
    (opened from this conversation or, for a known channel user, any of their conversations)."""
    if explicit and session.get(Town, explicit) is not None:
        return explicit
    row = session.execute(select(Conversation.channel, Conversation.external_user_id, Conversation.town_code)
                          .where(Conversation.id == conversation_id)).one()
    from_resident = Case.conversation_id == conversation_id
    if row.external_user_id:
        theirs = select(Conversation.id).where(Conversation.channel == row.channel,
                                               Conversation.external_user_id == row.external_user_id)
        from_resident = or_(from_resident, Case.conversation_id.in_(theirs))
    latest = session.scalar(select(Case.hukou_town_code).where(from_resident)
                            .order_by(Case.created_at.desc(), Case.id.desc()).limit(1))
    return latest or row.town_code


def queue_in_transaction(session: Session, conversation_id: str, reason: str, *, actor: str = "service",
                         town_code: str | None = None, now: dt.datetime | None = None) -> bool:
    """bot (or closed) → queued; False when it already is queued / with an agent."""
    now = now or utcnow()
    state = current_state(session, conversation_id)
    if state == "queued" and town_code and session.get(Town, town_code) is not None:
        # Already waiting, e.g. the assistant queued it before anyone knew the household town: a
        # later request that names it puts the conversation in that town's inbox.
        session.execute(update(Conversation).where(Conversation.id == conversation_id, Conversation.state == "queued",
                                                   Conversation.town_code.is_(None))
                        .values(town_code=town_code, updated_at=now).execution_options(synchronize_session=False))
    if state not in ("bot", "closed"):
        return False
    town = _town_for(session, conversation_id, town_code)
    why = REASON_TEXT.get(reason, reason)
    return change_owner(session, conversation_id, state, "queued", f"转人工排队（{why}），等待代办员接入",
                        actor=actor, now=now, extra={"reason": reason}, queued_at=now, queue_reason=reason,
                        town_code=town, assigned_staff_id=None) is not None


def _waiting_ahead(session: Session, request_id: int) -> int:
    """Conversations really waiting (queued) whose open request came before this one."""
    latest = (select(func.max(HandoffRequest.id)).where(HandoffRequest.conversation_id == Conversation.id)
              .correlate(Conversation).scalar_subquery())
    return session.scalar(select(func.count(Conversation.id)).where(Conversation.state == "queued",
                                                                    latest < request_id)) or 0


def request_handoff(session: Session, conversation_id: str, channel: str, reason: str,
                    now: dt.datetime | None = None, *, town_code: str | None = None) -> dict:
    """Records the request and queues the gateway's conversation for a person (the gateway then stops
    forwarding the resident's messages to Rasa). An unknown conversation is a 404: nobody could
    answer it, and it must not lengthen the queue residents are told about. Does not commit."""
    if session.scalar(select(Conversation.id).where(Conversation.id == conversation_id)) is None:
        raise NotFound("conversation_not_found", "没有找到这个会话，无法转人工")
    now = now or utcnow()
    reason = reason if reason in REASONS else "requested"
    open_request = None
    if current_state(session, conversation_id) in REQUEST_STATE:
        open_request = _latest_request(session, conversation_id)
    if open_request is None:
        open_request = HandoffRequest(conversation_id=conversation_id, channel=channel, reason=reason, created_at=now)
        session.add(open_request)
        session.flush()
    queue_in_transaction(session, conversation_id, reason, town_code=town_code, now=now)
    ahead = _waiting_ahead(session, open_request.id)
    state = REQUEST_STATE.get(current_state(session, conversation_id), "closed")
    if in_office_hours(now):
        message = f"已为您转接人工客服，前面还有{ahead}位，请稍等，代办员会尽快回复您。"
    else:
        message = f"已为您登记转人工。现在是下班时间，代办员上班后（{office_hours_text()}）会第一时间回复您。"
    return {"state": state, "queue_position": ahead + 1, "message": message}
