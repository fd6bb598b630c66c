"""The outbox handlers that deliver pushes. Each runs inside the worker's transaction for its one
message: its writes (transcript entries, notices, the next outbox message) commit together with
the "done" mark, and commit nothing themselves. Raising means "try again later, with back-off".
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from erma.cases.models import Case
from erma.cases.stages import Stage
from erma.channels.wechat import api as wechat_api
from erma.channels.wechat import service as wechat
from erma.conversations import rasa_client
from erma.conversations import service as gateway
from erma.conversations.models import Conversation
from erma.conversations.transcript import append_entry
from erma.outbox.kinds import Kind
from erma.pushes import templates
from erma.pushes.models import Notice
from erma.pushes.notices import notify_staff, resident_notice
from erma.pushes.service import RATING_REQUEST, RESIDENT_PUSH, WECHAT_SEND, queue_wechat, record_no_channel
from erma.pushes.targets import push_conversation

RATING_INTENT = "EXTERNAL_ask_rating"  # data/rules/rating.yml; action_ask_rating reads the `case_no` entity
RATING_ASKABLE = (Stage.COMPLETED, Stage.DELIVERED)  # the stages at which a rating is accepted
RATING_ATTEMPTS = 4  # Rasa down for ~4 minutes: the template asks instead


def _deliver(session: Session, notice: Notice, case: Case, now: dt.datetime) -> None:
    """The notice as a system entry in the case's own conversation (what the web page
    shows); a WeChat conversation also gets it by the customer-service API, as the next message."""
    conversation = push_conversation(session, case)
    if conversation is None:
        record_no_channel(session, case, notice.text)
        return
    entry = gateway.add_system_note(session, conversation.id, notice.text, now=now,
                                    meta={"kind": "push", "notice_id": notice.id, "push_kind": notice.kind})
    notice.delivered_at = now
    if conversation.channel == "wechat" and conversation.external_user_id:
        queue_wechat(session, conversation, entry.seq, notice.text, case_id=case.id, now=now)


# ---------------------------------------------------------------- resident_push

def handle_resident_push(session: Session, payload: dict, now: dt.datetime) -> None:
    notice = session.get(Notice, payload["notice_id"])
    if notice is None or notice.delivered_at is not None:
        return
    _deliver(session, notice, session.get(Case, notice.case_id), now)


def resident_push_failed(session: Session, payload: dict, now: dt.datetime, error: str) -> None:
    notice = session.get(Notice, payload["notice_id"])
    case = session.get(Case, notice.case_id) if notice else None
    if notice is not None and case is not None:
        notify_staff(session, case.agent_id, case, "push_undeliverable",
                     templates.undeliverable_staff(templates.retries_exhausted(error), notice.text))


# ---------------------------------------------------------------- wechat_send

def _wechat_undeliverable(session: Session, payload: dict, reason: str) -> None:
    """System note in the conversation + a notice for the case's agent (or the agent who replied)."""
    wechat.note_undeliverable(session, payload["openid"], payload["text"], reason, payload["conversation_id"])
    case = session.get(Case, payload["case_id"]) if payload.get("case_id") else None
    staff_id = payload.get("staff_id") or (case.agent_id if case else None)
    if staff_id is None:
        conversation = session.get(Conversation, payload["conversation_id"])
        staff_id = conversation.assigned_staff_id if conversation else None
    notify_staff(session, staff_id, case, "push_undeliverable", templates.undeliverable_staff(reason, payload["text"]))


def handle_wechat_send(session: Session, payload: dict, now: dt.datetime) -> None:
    closed = wechat.window_closed(session, payload["openid"], now)
    if closed is not None:
        _wechat_undeliverable(session, payload, closed)
        return
    try:
        wechat.send_in_transaction(session, payload["openid"], payload["text"])
    except wechat_api.WechatApiError as exc:
        reason = wechat.permanent_reason(exc)
        if reason is None:
            raise  # transient: the worker tries again later
        _wechat_undeliverable(session, payload, reason)


def wechat_send_failed(session: Session, payload: dict, now: dt.datetime, error: str) -> None:
    _wechat_undeliverable(session, payload, templates.retries_exhausted(error))


# ---------------------------------------------------------------- rating_request

def prepare_rating(factory: sessionmaker[Session], payload: dict, now: dt.datetime) -> dict | None:
    """Asks the assistant (no transaction open: its action calls back into the platform). None when
    the assistant must not ask (no conversation, or not in the bot state)."""
    with factory() as session:
        case = session.get(Case, payload["case_id"])
        conversation = push_conversation(session, case) if case is not None else None
        target = (conversation.id, conversation.state, case.case_no) if conversation is not None else None
        session.rollback()
    if target is None or target[1] != "bot":
        return None
    messages = rasa_client.trigger_intent(target[0], RATING_INTENT, {"case_no": target[2]})
    return {"conversation_id": target[0], "messages": messages}


def _by_assistant(session: Session, case: Case, conversation: Conversation, messages: list[dict],
                  now: dt.datetime) -> bool:
    """The assistant's question as assistant entries, written only while the conversation is still
    the assistant's (the conditional append loses to an agent who took it meanwhile)."""
    usable = [(m.get("text") or "", m.get("buttons") if isinstance(m.get("buttons"), list) else None)
              for m in messages if m.get("text") or m.get("buttons")]
    if not usable:
        return False
    entries = []
    for text, buttons in usable:
        entry, _ = append_entry(session, conversation.id, "assistant", text, now=now, buttons=buttons,
                                meta={"kind": "push", "push_kind": "rating_request", "case_no": case.case_no},
                                only_if=Conversation.state == "bot")
        if entry is None:
            return False  # only the first can lose: from then on this transaction holds the row
        entries.append(entry)
    notice = resident_notice(session, case, "rating_request", "\n".join(t for t, _ in usable if t))
    notice.delivered_at = now
    for entry in entries:
        entry.meta = {**entry.meta, "notice_id": notice.id}
    if conversation.channel == "wechat" and conversation.external_user_id:
        queue_wechat(session, conversation, entries[0].seq, templates.wechat_text(usable), case_id=case.id, now=now)
    return True


def _by_template(session: Session, case: Case, now: dt.datetime) -> None:
    words = templates.case_words(session, case)
    _deliver(session, resident_notice(session, case, "rating_request", templates.rating_request(words)), case, now)


def handle_rating_request(session: Session, payload: dict, now: dt.datetime, prepared) -> None:
    case = session.get(Case, payload["case_id"])
    if case is None or case.stage not in RATING_ASKABLE:
        return  # rated (or moved on) in the meantime: nothing to ask
    conversation = push_conversation(session, case)
    if conversation is None:
        record_no_channel(session, case, f"【{case.case_no}】{templates.rating_request(templates.case_words(session, case))}")
        return
    if conversation.state == "bot":
        if isinstance(prepared, Exception):
            raise prepared  # e.g. Rasa unavailable: asked again later; the template once retries run out
        if isinstance(prepared, dict) and prepared["conversation_id"] == conversation.id:
            if _by_assistant(session, case, conversation, prepared["messages"], now):
                return
    _by_template(session, case, now)  # an agent holds it (the assistant never talks over an agent), or it changed


def rating_request_failed(session: Session, payload: dict, now: dt.datetime, error: str) -> None:
    case = session.get(Case, payload["case_id"])
    if case is not None and case.stage in RATING_ASKABLE:
        _by_template(session, case, now)


KINDS = {
    RESIDENT_PUSH: Kind(handle_resident_push, on_failed=resident_push_failed),
    WECHAT_SEND: Kind(handle_wechat_send, on_failed=wechat_send_failed),
    RATING_REQUEST: Kind(handle_rating_request, prepare=prepare_rating, on_failed=rating_request_failed,
                         max_attempts=RATING_ATTEMPTS),
}
