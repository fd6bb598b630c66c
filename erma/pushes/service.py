"""Putting pushes on the outbox, always in the transaction of the change that causes them.

Three outbox kinds (handled in erma/pushes/handlers.py):
- `resident_push` — one resident Notice to the case's own conversation (erma/pushes/targets.py; its transcript
  is the web chat's delivery); for a WeChat conversation the handler queues a `wechat_send`.
- `rating_request` — after completion: asked by the assistant (Rasa `trigger_intent`) when the
  conversation is in the bot state, otherwise the template text.
- `wechat_send` — one text by WeChat's customer-service API (a push, or an agent's reply).

Dedupe keys name the cause (`push:case_event:<id>`, `push:deferral_reminder:<id>`,
`rating_request:<case id>`, `wechat_send:<conversation>:<seq>`), so each is pushed once.
Sequence keys keep order: a case's pushes go out one after another (the rating request after the
result), and so do all WeChat sends to one openid.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.conversations.models import Conversation
from erma.db import as_utc, utcnow
from erma.outbox.service import enqueue, find
from erma.pushes import templates
from erma.pushes.models import Notice
from erma.pushes.notices import notify_staff, resident_notice
from erma.pushes.targets import push_conversation

RESIDENT_PUSH, RATING_REQUEST, WECHAT_SEND = "resident_push", "rating_request", "wechat_send"


def _due(now: dt.datetime | None) -> dt.datetime:
    """As soon as possible (a caller's "now" in the future must not hold a push back)."""
    real = utcnow()
    return min(as_utc(now), real) if now is not None else real


def case_sequence(case: Case) -> str:
    return f"case:{case.id}"


def wechat_sequence(openid: str) -> str:
    return f"wechat:{openid}"


def record_no_channel(session: Session, case: Case, text: str) -> None:
    """A case opened at a counter (no conversation): staff tell the resident themselves."""
    notify_staff(session, case.agent_id, case, "push_undeliverable",
                 templates.undeliverable_staff(templates.NO_CHANNEL, text))


def earlier_push_notice(session: Session, push_key: str) -> Notice | None:
    msg = find(session, f"push:{push_key}")
    return session.get(Notice, msg.payload["notice_id"]) if msg is not None else None


def queue_notice(session: Session, case: Case, notice: Notice, push_key: str, now: dt.datetime | None) -> None:
    """Called by notify_resident for every resident notice."""
    if push_conversation(session, case) is None:
        record_no_channel(session, case, notice.text)
        return
    enqueue(session, RESIDENT_PUSH, f"push:{push_key}", {"notice_id": notice.id, "case_id": case.id},
            _due(now), sequence_key=case_sequence(case))


def notify_resident(session: Session, case: Case, kind: str, text: str, *, push_key: str | None = None,
                    now: dt.datetime | None = None) -> Notice:
    """Records a resident notice and puts its delivery on the outbox in the caller's transaction, so a
    change that rolls back pushes nothing; `push_key` (the cause: a stage change, a reminder) makes it
    once-only."""
    if push_key is not None:
        earlier = earlier_push_notice(session, push_key)
        if earlier is not None:
            return earlier
    notice = resident_notice(session, case, kind, text)
    queue_notice(session, case, notice, push_key or f"notice:{notice.id}", now)
    return notice


def request_rating(session: Session, case: Case, now: dt.datetime | None = None) -> None:
    if push_conversation(session, case) is None:
        words = templates.case_words(session, case)
        record_no_channel(session, case, f"【{case.case_no}】{templates.rating_request(words)}")
        return
    enqueue(session, RATING_REQUEST, f"rating_request:{case.id}", {"case_id": case.id}, _due(now),
            sequence_key=case_sequence(case))


def queue_wechat(session: Session, conversation: Conversation, seq: int, text: str, *, case_id: int | None = None,
                 staff_id: int | None = None, now: dt.datetime | None = None) -> None:
    openid = conversation.external_user_id
    enqueue(session, WECHAT_SEND, f"wechat_send:{conversation.id}:{seq}",
            {"conversation_id": conversation.id, "openid": openid, "seq": seq, "text": text,
             "case_id": case_id, "staff_id": staff_id},
            _due(now), sequence_key=wechat_sequence(openid))
