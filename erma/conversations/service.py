"""The gateway's rules: who owns a conversation, what reaches Rasa, and the transcript.

Concurrency rules (several platform processes, SQLite or PostgreSQL):
- Every change of owner is a conditional `UPDATE … WHERE state = <expected>` whose rowcount
  decides who won; the loser is told (409), never silently overwritten.
- Transcript numbers come from `UPDATE conversations SET last_seq = last_seq + 1 … RETURNING`,
  which locks the conversation row until commit, so `seq` order is commit order and a client
  reading `after_seq` can never skip an entry that commits later with a smaller number.
- No transaction is open while Rasa is asked: Rasa's actions call back into the platform
  (e.g. POST /api/v1/handoffs moves this very conversation to `queued`) and must not wait on us.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from erma.bounds import PAGE_DEFAULT, page_of
from erma.conversations import rasa_client
from erma.conversations.events import AgentReplied, OwnerChanged
from erma.conversations.handoff import request_handoff
from erma.conversations.models import CHANNELS, Conversation, TranscriptEntry
from erma.conversations.transcript import append_entry, change_owner, current_state
from erma.db import as_utc, utcnow
from erma.errors import Conflict, NotFound, ValidationFailed
from erma.events import publish
from erma.permissions import Permission, Role, may
from erma.pii_refs import service as references
from erma.staff.auth import Principal
from erma.understanding.service import understand
from erma.unit_of_work import end_step, reading_step

HANDOFF_PAYLOAD = "/request_human"
# What a resident sends to ask for a person when the assistant cannot understand them.
HANDOFF_WORDS = {HANDOFF_PAYLOAD, "转人工", "人工", "人工客服", "转人工客服", "找人工", "我要转人工"}
HANDOFF_BUTTONS = [{"title": "转人工", "payload": HANDOFF_PAYLOAD}]
UNAVAILABLE_TEXT = ("抱歉，智能助手暂时无法回复。您的消息已经收到并保存了，"
                    "您可以稍后再发一次，或者点“转人工”请工作人员帮您。")
MAX_TEXT = 2000
# A `/…` payload reaches Rasa only when a button with it is among the conversation's latest entries.
OFFER_WINDOW = 20

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- reading

def get_conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    if conversation is None:
        raise NotFound("conversation_not_found", "没有找到这个会话")
    return conversation


def can_see(principal: Principal, conversation: Conversation) -> bool:
    """The one rule for who may see a conversation and its transcript, and act on it:

    - a county admin, and the channel that carries it (the service token: it delivered every message);
    - the staff member holding it (the agent who took it);
    - agents of its town. A conversation the assistant queued before anyone knew the household
      town has no town: while it waits in the queue every agent may open it, so that somebody can
      take it; once taken only the holder (and the admin) see it.
    Duty leads and town reviewers do not read residents' conversations (a duty lead's inbox lists
    who is waiting and for how long, nothing more). Whoever sees a transcript sees ID numbers and
    phones masked (pii_refs.masker)."""
    if may(principal.role, Permission.READ_ANY_CONVERSATION):
        return True
    if principal.staff is not None and conversation.assigned_staff_id == principal.staff.id:
        return True
    if not may(principal.role, Permission.READ_TOWN_CONVERSATIONS):
        return False
    if conversation.town_code is None:
        return conversation.state == "queued"
    return conversation.town_code in principal.towns


def visible_to(principal: Principal):
    """`can_see` as a SQL condition on conversations, for lists that page in the database (the same rule:
    tests/platform/test_conversation_lists.py checks that both agree for every role)."""
    if may(principal.role, Permission.READ_ANY_CONVERSATION):
        return true()
    holder = Conversation.assigned_staff_id == principal.staff.id if principal.staff is not None else false()
    if not may(principal.role, Permission.READ_TOWN_CONVERSATIONS):
        return holder
    return or_(holder, and_(Conversation.town_code.is_(None), Conversation.state == "queued"),
               Conversation.town_code.in_(sorted(principal.towns)))


def visible_conversation(session: Session, conversation_id: str, principal: Principal) -> Conversation:
    conversation = get_conversation(session, conversation_id)
    if not can_see(principal, conversation):
        raise NotFound("conversation_not_found", "没有找到这个会话")  # same answer as an unknown id
    return conversation


def transcript(session: Session, conversation: Conversation, after_seq: int = 0, limit: int = 200) -> list[TranscriptEntry]:
    return list(session.scalars(select(TranscriptEntry).where(TranscriptEntry.conversation_id == conversation.id,
                                                              TranscriptEntry.seq > after_seq)
                                .order_by(TranscriptEntry.seq).limit(limit)))


def inbox(session: Session, principal: Principal, limit: int = PAGE_DEFAULT,
          offset: int = 0) -> tuple[list[Conversation], int | None]:
    """Queued conversations, longest waiting first: those an agent may take (can_see), or all of them
    for a duty lead or an admin (a duty lead sees who waits, not what they wrote). One page, and the
    next page's offset (None: the last page)."""
    query = select(Conversation).where(Conversation.state == "queued")
    if not principal.county_wide:
        query = query.where(visible_to(principal))
    query = query.order_by(Conversation.queued_at, Conversation.created_at, Conversation.id)
    return page_of(list(session.scalars(query.offset(offset).limit(limit + 1))), limit, offset)


def with_agents(session: Session, principal: Principal, mine: bool, limit: int = PAGE_DEFAULT,
                offset: int = 0) -> tuple[list[Conversation], int | None]:
    """Conversations with an agent now: the caller's own (`mine`), or all the caller may see; most
    recently active first. One page, and the next page's offset (None: the last page)."""
    query = select(Conversation).where(Conversation.state == "agent")
    if mine:
        query = query.where(Conversation.assigned_staff_id == (principal.staff.id if principal.staff else -1))
    else:
        query = query.where(visible_to(principal))
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc())
    return page_of(list(session.scalars(query.offset(offset).limit(limit + 1))), limit, offset)


def _refresh(session: Session, conversation: Conversation) -> Conversation:
    session.refresh(conversation)
    return conversation


# ---------------------------------------------------------------- writing

def add_system_note(session: Session, conversation_id: str, text: str, meta: dict | None = None,
                    now: dt.datetime | None = None) -> TranscriptEntry | None:
    """A system entry in the transcript (e.g. a push that could not be delivered), for agents."""
    entry, _ = append_entry(session, conversation_id, "system", text, now=now or utcnow(), meta=meta)
    return entry


def _tell_resident(session: Session, conversation: Conversation, entry: TranscriptEntry) -> None:
    """A person taking, handing back or ending the conversation: the web page shows the transcript
    entry itself; the listeners of OwnerChanged tell a WeChat resident (through the outbox, in order
    with the replies)."""
    publish(session, OwnerChanged(conversation=conversation, entry=entry))


def open_conversation(session: Session, channel: str, external_user_id: str | None = None,
                      now: dt.datetime | None = None) -> tuple[Conversation, bool]:
    """A new conversation in the bot state, or the resident's open one on that channel."""
    if channel not in CHANNELS:
        raise ValidationFailed("channel_invalid", "渠道只能是 web_chat 或 wechat", field="channel")
    if external_user_id:
        existing = session.scalar(select(Conversation).where(
            Conversation.channel == channel, Conversation.external_user_id == external_user_id,
            Conversation.state != "closed").order_by(Conversation.created_at.desc()).limit(1))
        if existing is not None:
            return existing, False
    now = now or utcnow()
    conversation = Conversation(id=uuid.uuid4().hex, channel=channel, external_user_id=external_user_id,
                                state="bot", last_seq=0, created_at=now, updated_at=now)
    session.add(conversation)
    session.flush()
    return conversation, True


def _agent_label(principal: Principal) -> str:
    staff = principal.staff
    if staff is None:
        return "工作人员"
    label = f"代办员{staff.display_name}" if principal.role == Role.AGENT else f"工作人员{staff.display_name}"
    return label + (f"（证号{staff.credential_no}）" if staff.credential_no else "")


def take(session: Session, conversation: Conversation, principal: Principal) -> Conversation:
    """queued → agent. Of two agents taking the same conversation exactly one wins; the other gets 409."""
    if not can_see(principal, conversation):
        raise NotFound("conversation_not_found", "没有找到这个会话")
    staff_id = principal.staff.id if principal.staff else None
    now = utcnow()
    town_ok = None
    if not principal.county_wide:
        town_ok = or_(Conversation.town_code.is_(None), Conversation.town_code.in_(sorted(principal.towns)))
    won = change_owner(session, conversation.id, "queued", "agent", f"{_agent_label(principal)}已接入，为您服务",
                       actor=principal.actor, now=now, staff_id=staff_id, condition=town_ok,
                       assigned_staff_id=staff_id)
    if not won:
        session.rollback()
        current = get_conversation(session, conversation.id)
        if current.state == "agent" and staff_id is not None and current.assigned_staff_id == staff_id:
            return current  # the same agent pressed twice
        if current.state == "agent":
            raise Conflict("already_taken", "这个会话已经由其他代办员接入了")
        raise Conflict("not_queued", "这个会话现在没有在排队等待人工，不能接入")
    _tell_resident(session, conversation, won)
    session.flush()
    return _refresh(session, conversation)


def _mine(principal: Principal):
    if principal.staff is None:
        return false()
    return Conversation.assigned_staff_id == principal.staff.id


def agent_reply(session: Session, conversation: Conversation, principal: Principal, text: str,
                client_msg_id: str | None = None) -> TranscriptEntry:
    """Only the agent who took the conversation writes in it."""
    text = _clean(text)
    if client_msg_id:
        existing = _by_client_msg_id(session, conversation.id, client_msg_id)
        if existing is not None:
            return existing
    condition = and_(Conversation.state == "agent", _mine(principal))
    try:
        entry, _ = append_entry(session, conversation.id, "agent", text, now=utcnow(),
                                agent_staff_id=principal.staff.id, client_msg_id=client_msg_id, only_if=condition)
    except IntegrityError:
        session.rollback()
        return _by_client_msg_id(session, conversation.id, client_msg_id)
    if entry is None:
        session.rollback()
        raise Conflict("not_your_conversation", "这个会话不在您这里，请先接入再回复")
    publish(session, AgentReplied(conversation=conversation, entry=entry))  # WeChat: by the outbox, with the reply
    session.flush()
    return entry


def hand_back(session: Session, conversation: Conversation, principal: Principal) -> Conversation:
    """agent → bot: the assistant answers the resident's next message again."""
    condition = None if principal.county_wide else _mine(principal)
    done = change_owner(session, conversation.id, "agent", "bot",
                        f"{_agent_label(principal)}已结束人工服务，智能助手继续为您服务",
                        actor=principal.actor, now=utcnow(), staff_id=principal.staff.id if principal.staff else None,
                        condition=condition, assigned_staff_id=None, queued_at=None, queue_reason=None)
    if not done:
        session.rollback()
        raise Conflict("not_your_conversation", "这个会话不在您这里，不能交回智能助手")
    _tell_resident(session, conversation, done)
    session.flush()
    return _refresh(session, conversation)


def close(session: Session, conversation: Conversation, principal: Principal) -> Conversation:
    """Any open state → closed. An agent cannot close a conversation another agent holds."""
    if not can_see(principal, conversation):
        raise NotFound("conversation_not_found", "没有找到这个会话")
    state = current_state(session, conversation.id)
    if state == "closed":
        return _refresh(session, conversation)
    condition = None
    if state == "agent" and not principal.county_wide:
        condition = _mine(principal)
    done = change_owner(session, conversation.id, state, "closed", "会话已结束，感谢您使用尔玛云",
                        actor=principal.actor, now=utcnow(), staff_id=principal.staff.id if principal.staff else None,
                        condition=condition, assigned_staff_id=None, queued_at=None)
    if not done:
        session.rollback()
        raise Conflict("conversation_changed", "这个会话刚被其他人处理了，请刷新后再试")
    _tell_resident(session, conversation, done)
    session.flush()
    return _refresh(session, conversation)


# ---------------------------------------------------------------- resident messages

def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("text_empty", "消息不能为空", field="text")
    if len(text) > MAX_TEXT:
        raise ValidationFailed("text_too_long", f"消息太长了，请分几次发（每次不超过{MAX_TEXT}字）", field="text")
    return text


def _by_client_msg_id(session: Session, conversation_id: str, client_msg_id: str) -> TranscriptEntry | None:
    return session.scalar(select(TranscriptEntry).where(TranscriptEntry.conversation_id == conversation_id,
                                                        TranscriptEntry.client_msg_id == client_msg_id))


def _replies_to(session: Session, conversation_id: str, seq: int) -> list[TranscriptEntry]:
    return list(session.scalars(select(TranscriptEntry).where(TranscriptEntry.conversation_id == conversation_id,
                                                              TranscriptEntry.reply_to_seq == seq)
                                .order_by(TranscriptEntry.seq)))


def _duplicate(session: Session, conversation: Conversation, entry: TranscriptEntry) -> dict:
    replies = _replies_to(session, conversation.id, entry.seq)
    return {"entry": entry, "replies": replies, "duplicate": True, "forwarded": False,
            "conversation": _refresh(session, conversation)}


def _offered(session: Session, conversation_id: str, payload: str, title: str | None) -> bool:
    """Whether `payload` is a button this conversation was offered and may still press: one shown
    by the assistant or the platform among the latest OFFER_WINDOW entries (with the same title when
    the channel names it), or the always-available 转人工."""
    if payload == HANDOFF_PAYLOAD and (title is None or title.strip() == "转人工"):
        return True
    recent = session.execute(select(TranscriptEntry.author, TranscriptEntry.buttons).where(
        TranscriptEntry.conversation_id == conversation_id).order_by(TranscriptEntry.seq.desc()).limit(OFFER_WINDOW))
    for author, buttons in recent:
        if author not in ("assistant", "system") or not isinstance(buttons, list):
            continue
        for button in buttons:
            if (isinstance(button, dict) and button.get("payload") == payload
                    and (title is None or str(button.get("title") or "").strip() == title.strip())):
                return True
    return False


def _intent_like(char: str) -> bool:
    """Characters Rasa (after the NLU's NFKC folding and its strip()) could read as the start of `/intent`."""
    folded = unicodedata.normalize("NFKC", char)
    return char.isspace() or unicodedata.category(char) == "Cf" or folded == "/" or folded.isspace()


def as_plain_text(text: str) -> str:
    """Typed text for Rasa: never intent syntax. Rasa reads a message starting with `/` as
    `/intent{entities}` (RegexMessageHandler, also after the tokenizer folds `／` to `/`), so
    leading slashes, spaces and invisible characters are dropped; the words stay for the NLU."""
    start = 0
    while start < len(text) and _intent_like(text[start]):
        start += 1
    return text[start:] or "？"


def _incoming(session: Session, conversation_id: str, text: str, display_text: str | None) -> tuple[str, str, dict | None]:
    """(what the transcript stores, what Rasa gets, meta) for a resident's message. A button's payload
    goes to Rasa as it is when it was offered; anything typed is text, with its ID numbers and phones
    replaced by references (stored in this transaction)."""
    pressed = display_text is not None or text.startswith("/")
    if pressed and _offered(session, conversation_id, text, display_text):
        shown = display_text if display_text is not None else text
        return shown, text, ({"payload": text} if shown != text else None)
    if display_text is not None:
        raise ValidationFailed("button_unknown", "这个选项已经失效了，请直接打字告诉我", field="payload")
    protected = references.protect(session, conversation_id, text)
    return protected, as_plain_text(protected), None


@dataclass(frozen=True)
class Forward:
    """A resident's message stored in the bot state and on its way to Rasa (no transaction open)."""
    conversation: Conversation
    entry: TranscriptEntry
    text: str  # what Rasa gets
    metadata: dict


def store_resident_message(session: Session, conversation: Conversation, text: str, client_msg_id: str | None,
                           display_text: str | None = None) -> dict | Forward:
    """The step before Rasa: stores the resident's message once and, in the bot state, reads it
    (the platform's understanding) and ends the step. Returns the final result when Rasa is not to
    be asked (a repeated `client_msg_id`, a conversation with an agent or queued), else a `Forward`
    for `record_answer`.

    `display_text` (a tapped quick-reply button's title): what the transcript shows, while `text`
    (the button's payload) is what Rasa gets, if this conversation was offered that button; the
    payload is kept in the entry's meta. Typed text never reaches Rasa as an intent, and its ID
    numbers and phones are replaced by references before anything is stored or sent."""
    text = _clean(text)
    display_text = _clean(display_text) if display_text is not None else None
    if client_msg_id:
        existing = _by_client_msg_id(session, conversation.id, client_msg_id)
        if existing is not None:
            return _duplicate(session, conversation, existing)
    now = utcnow()
    try:
        if current_state(session, conversation.id) == "closed":
            change_owner(session, conversation.id, "closed", "bot", "居民又发来消息，会话重新打开，智能助手继续为您服务",
                         actor="resident", now=now)
        shown, forward, meta = _incoming(session, conversation.id, text, display_text)
        entry, state = append_entry(session, conversation.id, "resident", shown, now=now,
                                    client_msg_id=client_msg_id, meta=meta, last_resident_message_at=now)
        end_step(session)  # the message is stored whatever the assistant does next
    except IntegrityError:  # the same client message id stored by a concurrent request
        session.rollback()
        existing = _by_client_msg_id(session, conversation.id, client_msg_id) if client_msg_id else None
        if existing is None:
            raise
        return _duplicate(session, conversation, existing)
    except ValidationFailed:
        session.rollback()
        raise

    if state != "bot":  # queued / agent: the message waits for the agent; Rasa is not asked
        return {"entry": entry, "replies": [], "duplicate": False, "forwarded": False,
                "conversation": _refresh(session, conversation)}
    return _forward(session, conversation, entry, forward)


def _forward(session: Session, conversation: Conversation, entry: TranscriptEntry, forward: str) -> Forward:
    # erma_seq names the message in Rasa's tracker, so that a retry can tell whether Rasa saved its turn.
    metadata: dict = {"channel": conversation.channel, "erma_seq": entry.seq}
    if not forward.startswith("/"):
        # What typed text means is the platform's rule (item first); Rasa receives it with the text.
        # A pressed button (an offered "/…" payload) already says what it means. Read after the
        # message is stored, in a read-only step that takes no write lock and ends before Rasa is asked.
        with reading_step(session):
            metadata["understanding"] = understand(session, forward).as_dict()
    return Forward(conversation, entry, forward, metadata)


def record_answer(session: Session, forward: Forward, answer: list[dict] | rasa_client.RasaUnavailable) -> dict:
    """The step after Rasa: its replies (or its failure) in the transcript.
    Returns {"entry", "replies", "duplicate", "forwarded", "conversation"}."""
    conversation, entry = forward.conversation, forward.entry
    if isinstance(answer, rasa_client.RasaUnavailable):
        replies = _assistant_unavailable(session, conversation, entry, forward.text, answer.reason)
        return {"entry": entry, "replies": replies, "duplicate": False, "forwarded": False,
                "conversation": _refresh(session, conversation)}
    replies = []
    now = utcnow()
    for message in answer:
        reply_text = message.get("text")
        buttons = message.get("buttons") if isinstance(message.get("buttons"), list) else None
        if not reply_text and not buttons:
            continue  # images / custom payloads: not used by this assistant
        reply, _ = append_entry(session, conversation.id, "assistant", reply_text or "", now=now,
                                buttons=buttons, reply_to_seq=entry.seq)
        replies.append(reply)
    session.flush()
    return {"entry": entry, "replies": replies, "duplicate": False, "forwarded": True,
            "conversation": _refresh(session, conversation)}


def receive_resident_message(session: Session, conversation: Conversation, text: str, client_msg_id: str | None,
                             display_text: str | None = None) -> dict:
    """Stores the resident's message once; in the bot state forwards it to Rasa and stores the replies
    (store_resident_message, Rasa, record_answer), blocking: for a caller in a worker thread (the
    WeChat callback). Returns {"entry", "replies", "duplicate", "forwarded", "conversation"}."""
    step = store_resident_message(session, conversation, text, client_msg_id, display_text)
    if not isinstance(step, Forward):
        return step
    try:
        answer: list[dict] | rasa_client.RasaUnavailable = rasa_client.send_message_blocking(
            conversation.id, step.text, step.metadata)
    except rasa_client.RasaUnavailable as exc:
        answer = _saved_or_asked_blocking(step) if exc.kind in LOST_IN_FLIGHT else exc
    return record_answer(session, step, answer)


def _saved_or_asked_blocking(step: Forward) -> list[dict] | rasa_client.RasaUnavailable:
    """`_saved_or_asked` for the blocking path (the WeChat callback in a worker thread)."""
    sender, seq = step.conversation.id, step.entry.seq
    try:
        saved = rasa_client.saved_answer_blocking(sender, seq)
        _log_lost(sender, seq, saved)
        return saved if saved is not None else rasa_client.send_message_blocking(sender, step.text, step.metadata)
    except rasa_client.RasaUnavailable as exc:
        return exc


# Rasa's answer was lost after the message was sent: the replica died with it (the load balancer's 502) or
# the connection broke. Rasa may have saved the turn before it died, so its saved turn is taken if there is
# one, else it is asked once more; sending it again blindly would run a saved turn twice (a form filled twice).
LOST_IN_FLIGHT = frozenset({"unreachable", "http_502"})


async def _ask_rasa(step: Forward) -> list[dict] | rasa_client.RasaUnavailable:
    try:
        return await rasa_client.send_message(step.conversation.id, step.text, step.metadata)
    except rasa_client.RasaUnavailable as exc:
        return await _saved_or_asked(step) if exc.kind in LOST_IN_FLIGHT else exc


async def _saved_or_asked(step: Forward) -> list[dict] | rasa_client.RasaUnavailable:
    """A message whose answer never came back (lost in flight, or its process died): Rasa's saved turn for
    it, else Rasa asked once more. When the saved turn cannot be read, the failure is recorded instead:
    asking blindly could run a saved turn twice."""
    sender, seq = step.conversation.id, step.entry.seq
    try:
        saved = await rasa_client.saved_answer(sender, seq)
        _log_lost(sender, seq, saved)
        return saved if saved is not None else await rasa_client.send_message(sender, step.text, step.metadata)
    except rasa_client.RasaUnavailable as exc:
        return exc


def _log_lost(sender: str, seq: int, saved: list[dict] | None) -> None:
    logger.warning("Rasa's answer to message %s of conversation %s never came back: %s", seq, sender,
                   "its saved turn is taken" if saved is not None else "not saved, asked again")


# A repeated message still without an answer: how often to look for the first attempt's replies.
UNANSWERED_POLL_SECONDS = 0.25
# After the first attempt's own deadline (Rasa's timeout) and this margin, it can no longer answer.
UNANSWERED_GRACE_SECONDS = 2.0


def still_unanswered(session: Session, repeated: dict) -> dict | Forward | None:
    """A repeated `client_msg_id` whose first attempt has no answer yet (`repeated` is what
    store_resident_message returned for it). Its replies when they have arrived; the repeat as it is
    when Rasa is not to be asked (an agent has the conversation, or it moved on); None while the first
    attempt may still answer (its deadline is Rasa's timeout); else a Forward to ask Rasa again: the
    process of the first attempt died (a replica restarted, a load balancer resent the request)."""
    end_step(session)  # a fresh read: the first attempt commits its replies in another transaction
    conversation, entry = repeated["conversation"], repeated["entry"]
    # Later entries first, then the replies: each statement may see newer commits (PostgreSQL's READ
    # COMMITTED), and replies committed before the first read are then found by the second.
    later = session.scalar(select(TranscriptEntry.seq).where(TranscriptEntry.conversation_id == conversation.id,
                                                             TranscriptEntry.seq > entry.seq).limit(1))
    replies = _replies_to(session, conversation.id, entry.seq)
    if replies:
        return {**repeated, "replies": replies}
    if later is not None or current_state(session, conversation.id) != "bot" or entry.author != "resident":
        return repeated
    deadline = as_utc(entry.at) + dt.timedelta(seconds=rasa_client.timeout_seconds() + UNANSWERED_GRACE_SECONDS)
    if utcnow() < deadline:
        end_step(session)  # nothing held while waiting: the connection goes back to the pool
        return None
    meta = entry.meta or {}
    if "payload" in meta:
        forward = meta["payload"]
    elif entry.text.startswith("/") and _offered(session, conversation.id, entry.text, None):
        forward = entry.text
    else:
        forward = as_plain_text(entry.text)
    return _forward(session, conversation, entry, forward)


async def _answer_of_repeat(session: Session, repeated: dict) -> dict | Forward:
    while True:
        step = await run_in_threadpool(still_unanswered, session, repeated)
        if step is not None:
            return step
        await asyncio.sleep(UNANSWERED_POLL_SECONDS)


async def answer_resident_message(session: Session, find: Callable[[Session], Conversation], text: str,
                                  client_msg_id: str | None, view: Callable[[Session, dict], dict],
                                  display_text: str | None = None) -> dict:
    """`receive_resident_message` for the async routes (the web chat, the channel API): the database
    steps run in the threadpool (sync SQLAlchemy, the request's unit of work), Rasa is awaited on the
    kept client with no transaction open. `find` reads the conversation (and may refuse) in the first step.
    `view` (the route's presenter) shapes the result in the step that wrote it, not in a step of its own.

    A repeated message that has no answer yet waits for the first attempt's answer, and when that
    attempt can no longer come (its process died), asks again: Rasa's saved turn if it has one (the
    tracker names the message by `erma_seq`), else Rasa itself. Nothing is answered twice."""
    def first_step() -> dict | Forward:
        return store_resident_message(session, find(session), text, client_msg_id, display_text)

    def present(result: dict) -> dict:
        shaped = view(session, result)
        end_step(session)  # the last step ends with its work: the request's unit then has nothing left to end
        return shaped

    def last_step(step: Forward, answer: list[dict] | rasa_client.RasaUnavailable) -> dict:
        return present(record_answer(session, step, answer))

    step = await run_in_threadpool(first_step)
    if isinstance(step, dict) and step["duplicate"] and not step["replies"]:
        step = await _answer_of_repeat(session, step)
        if isinstance(step, Forward):  # the first attempt's process died: Rasa may have saved its turn
            return await run_in_threadpool(last_step, step, await _saved_or_asked(step))
    if not isinstance(step, Forward):
        return await run_in_threadpool(present, step)
    return await run_in_threadpool(last_step, step, await _ask_rasa(step))


def _assistant_unavailable(session: Session, conversation: Conversation, entry: TranscriptEntry, text: str,
                           reason: str) -> list[TranscriptEntry]:
    """Rasa failed: the message stays stored, the failure is recorded, the resident is offered a person."""
    now = utcnow()
    append_entry(session, conversation.id, "system", f"{reason}，居民的第{entry.seq}条消息已保存，未经助手处理",
                 now=now, reply_to_seq=entry.seq, meta={"kind": "assistant_unavailable", "reason": reason})
    if text.strip() in HANDOFF_WORDS:
        # The resident asked for a person (e.g. pressed 转人工): the gateway queues it itself.
        session.flush()
        result = request_handoff(session, conversation.id, conversation.channel, "requested")
        notice, buttons = result["message"], None
    else:
        notice, buttons = UNAVAILABLE_TEXT, HANDOFF_BUTTONS
    reply, _ = append_entry(session, conversation.id, "system", notice, now=utcnow(), buttons=buttons,
                            reply_to_seq=entry.seq, meta={"kind": "notice"})
    session.flush()
    return [reply]


def wait_seconds(conversation: Conversation, now: dt.datetime | None = None) -> int:
    start = as_utc(conversation.queued_at) or as_utc(conversation.created_at)
    return max(0, int(((now or utcnow()) - start).total_seconds()))
