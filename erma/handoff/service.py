"""Queueing a conversation for a person; the resident is told the expected wait or office hours."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.clock import local_zone
from erma.db import utcnow
from erma.errors import NotFound
from erma.handoff.models import HandoffRequest
from erma.working_days import is_working_day

REASONS = {"requested", "fallback", "form_abandoned"}
OFFICE_HOURS = ((9, 0, 12, 0), (14, 0, 17, 30))
OFFICE_HOURS_TEXT = "工作日 9:00–12:00、14:00–17:30"


def in_office_hours(now: dt.datetime) -> bool:
    local = now.astimezone(local_zone())
    if not is_working_day(local.date()):
        return False
    minutes = local.hour * 60 + local.minute
    return any(h1 * 60 + m1 <= minutes < h2 * 60 + m2 for h1, m1, h2, m2 in OFFICE_HOURS)


def request_handoff(session: Session, conversation_id: str, channel: str, reason: str,
                    now: dt.datetime | None = None, *, town_code: str | None = None, commit: bool = True) -> dict:
    """Records the request and queues the gateway's conversation for a person (the gateway then stops
    forwarding the resident's messages to Rasa). An unknown conversation is a 404: nobody could
    answer it, and it must not lengthen the queue residents are told about."""
    from erma.conversations.models import Conversation
    from erma.conversations.service import queue_in_transaction

    if session.scalar(select(Conversation.id).where(Conversation.id == conversation_id)) is None:
        raise NotFound("conversation_not_found", "没有找到这个会话，无法转人工")
    now = now or utcnow()
    reason = reason if reason in REASONS else "requested"
    open_request = session.scalar(select(HandoffRequest).where(HandoffRequest.conversation_id == conversation_id,
                                                               HandoffRequest.state != "closed"))
    if open_request is None:
        open_request = HandoffRequest(conversation_id=conversation_id, channel=channel, reason=reason, created_at=now)
        session.add(open_request)
        session.flush()
    queue_in_transaction(session, conversation_id, reason, town_code=town_code, now=now)
    # Only conversations really waiting count (requests recorded for unknown ids before this rule did not).
    ahead = session.scalar(select(func.count(HandoffRequest.id)).join(
        Conversation, Conversation.id == HandoffRequest.conversation_id).where(
        HandoffRequest.state == "queued", Conversation.state == "queued", HandoffRequest.id < open_request.id)) or 0
    state = open_request.state
    if commit:
        session.commit()
    if in_office_hours(now):
        message = f"已为您转接人工客服，前面还有{ahead}位，请稍等，代办员会尽快回复您。"
    else:
        message = f"已为您登记转人工。现在是下班时间，代办员上班后（{OFFICE_HOURS_TEXT}）会第一时间回复您。"
    return {"state": state, "queue_position": ahead + 1, "message": message}
