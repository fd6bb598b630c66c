"""The WeChat channel's rules: answer each delivery once, talk to the gateway conversation of the
resident's openid, and push later answers through the customer-service API inside the window.

A message is claimed by inserting its `wechat_inbound` row (unique dedupe key); WeChat's retries
find the row and get the stored answer, or `success` while it is still being worked on. Who sends
a slow answer is decided by one conditional UPDATE on that row: the request that waited moves it
`processing → deferred` (and answers `success`), or the worker moves it `processing → replied`
(and the request answers passively). Whoever loses knows the other side has it.
"""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma.channels.wechat import api
from erma.channels.wechat.messages import Inbound, render
from erma.channels.wechat.models import WechatAccessToken, WechatFollower, WechatInbound
from erma.conversations import service as gateway
from erma.conversations.models import Conversation, TranscriptEntry
from erma.db import as_utc, utcnow
from erma.errors import DomainError
from erma.pii_refs.service import masker
from erma.pushes import templates
from erma.settings import get_settings
from erma.unit_of_work import end_step

log = logging.getLogger("erma.wechat")

WELCOME_TEXT = ("您好，欢迎关注茂县“尔玛云”便民代办！\n"
                "您可以直接发文字（或语音）告诉我想办什么事，例如“办残疾证要带什么”“查询办件进度”；"
                "需要工作人员帮忙时回复“转人工”。代办服务全程免费。")
VOICE_UNRECOGNISED_TEXT = "抱歉，这条语音没能识别出文字。请您改发文字消息，或者回复“转人工”等待工作人员为您服务。"
UNSUPPORTED_TEXT = "抱歉，目前只能处理文字和语音消息，暂时看不了图片、位置、文件等内容。请用文字描述您想办理的事情，或回复“转人工”。"
QUEUED_TEXT = "您的消息已收到，正在为您转接工作人员，请稍候。"
EMPTY_TEXT = "请用文字告诉我您想办理的事情，或回复“转人工”。"
STALE_CLAIM_SECONDS = 4


# ---------------------------------------------------------------- de-duplication

def claim(session: Session, inbound: Inbound) -> WechatInbound | None:
    """Stores the delivery; None when it is new (the caller processes it), else the earlier row.
    Called in a unit of work of its own: the claim is committed before the work starts."""
    now = utcnow()
    try:
        with session.begin_nested():
            session.add(WechatInbound(dedupe_key=inbound.dedupe_key, openid=inbound.from_user,
                                      msg_type=inbound.msg_type, state="processing", created_at=now, updated_at=now))
        return None
    except IntegrityError:
        pass
    # A claim still `processing` long after the waiting request would have answered or deferred it
    # belongs to a process that died: this retry takes the message over instead of losing it.
    stale_before = now - dt.timedelta(seconds=get_settings().wechat_reply_timeout_seconds + STALE_CLAIM_SECONDS)
    taken_over = session.execute(update(WechatInbound).where(WechatInbound.dedupe_key == inbound.dedupe_key,
                                                             WechatInbound.state == "processing",
                                                             WechatInbound.updated_at < stale_before)
                                 .values(updated_at=now).execution_options(synchronize_session=False)).rowcount
    if taken_over == 1:
        log.warning("WeChat delivery %s: an abandoned claim was taken over by a retry", inbound.dedupe_key)
        return None
    earlier = session.scalar(select(WechatInbound).where(WechatInbound.dedupe_key == inbound.dedupe_key)
                             .execution_options(populate_existing=True))
    return earlier


def release(session: Session, dedupe_key: str) -> None:
    """Processing failed: forget the claim so WeChat's retry is processed afresh (in a unit of work of
    its own, after the failed one rolled back)."""
    session.execute(delete(WechatInbound).where(WechatInbound.dedupe_key == dedupe_key,
                                                WechatInbound.state == "processing"))


def finish(session: Session, dedupe_key: str, state: str, reply_text: str | None = None,
           conversation_id: str | None = None) -> bool:
    """processing → replied | deferred; False when the other side got there first. The caller's unit of
    work commits it at once: the other side learns the outcome from the committed row."""
    values = {"state": state, "updated_at": utcnow()}
    if reply_text is not None:
        values["reply_text"] = reply_text
    if conversation_id is not None:
        values["conversation_id"] = conversation_id
    done = session.execute(update(WechatInbound).where(WechatInbound.dedupe_key == dedupe_key,
                                                       WechatInbound.state == "processing")
                           .values(**values).execution_options(synchronize_session=False)).rowcount == 1
    return done


def stored(session: Session, dedupe_key: str) -> WechatInbound | None:
    row = session.scalar(select(WechatInbound).where(WechatInbound.dedupe_key == dedupe_key)
                         .execution_options(populate_existing=True))
    return row


# ---------------------------------------------------------------- the customer-service window

def touch(session: Session, openid: str, *, subscribed: bool = True) -> None:
    """Records an interaction (any message or event from the resident)."""
    now = utcnow()
    values = {"last_interaction_at": now, "updated_at": now, "subscribed": subscribed}
    if session.execute(update(WechatFollower).where(WechatFollower.openid == openid).values(**values)
                       .execution_options(synchronize_session=False)).rowcount == 0:
        try:
            with session.begin_nested():
                session.add(WechatFollower(openid=openid, **values))
        except IntegrityError:
            session.execute(update(WechatFollower).where(WechatFollower.openid == openid).values(**values)
                            .execution_options(synchronize_session=False))


def window_closed(session: Session, openid: str, now: dt.datetime | None = None) -> str | None:
    """Why a customer-service message cannot be sent now (our own record), or None. Does not commit."""
    follower = session.get(WechatFollower, openid, populate_existing=True)
    if follower is not None and not follower.subscribed:
        return templates.UNSUBSCRIBED
    hours = get_settings().wechat_service_window_hours
    if follower is None or (now or utcnow()) - as_utc(follower.last_interaction_at) >= dt.timedelta(hours=hours):
        return templates.WINDOW_CLOSED
    return None


def in_window(session: Session, openid: str, now: dt.datetime | None = None) -> bool:
    closed = window_closed(session, openid, now)
    end_step(session)  # ends the read: no transaction is open while WeChat is called
    return closed is None


def _conversation_for(session: Session, openid: str) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.channel == "wechat",
                                                     Conversation.external_user_id == openid)
                          .order_by(Conversation.updated_at.desc()).limit(1))


def note_undeliverable(session: Session, openid: str, text: str, reason: str, conversation_id: str | None) -> None:
    """A system transcript entry the agent console shows: the resident did not get this. Does not commit."""
    conversation_id = conversation_id or getattr(_conversation_for(session, openid), "id", None)
    if conversation_id is None:
        log.warning("WeChat push undeliverable (%s) and no conversation to record it in", reason)
        return
    gateway.add_system_note(session, conversation_id, templates.undeliverable_note("wechat", reason, text),
                            meta={"kind": "push_undeliverable", "channel": "wechat", "reason": reason})


def _record_undeliverable(session: Session, openid: str, text: str, reason: str, conversation_id: str | None) -> None:
    note_undeliverable(session, openid, text, reason, conversation_id)
    session.flush()


def push_text(session: Session, openid: str, text: str, conversation_id: str | None = None) -> bool:
    """Sends a message the resident did not just ask for (a late answer, an agent's reply, a notice).
    Outside the window, or when WeChat refuses it, the push is recorded as undeliverable."""
    if not in_window(session, openid):
        _record_undeliverable(session, openid, text, "已超过48小时客服消息时限", conversation_id)
        return False
    try:
        api.send_text(session, openid, text)
    except api.WechatApiError as exc:
        session.rollback()
        if exc.errcode == api.OUT_OF_WINDOW:
            reason = "已超过48小时客服消息时限"
        else:
            log.warning("WeChat customer-service send failed: %s", exc)
            reason = f"微信接口错误 {exc.errcode}" if exc.errcode else "微信接口不可用"
        _record_undeliverable(session, openid, text, reason, conversation_id)
        return False
    return True


# ---------------------------------------------------------------- sending inside a caller's transaction (the outbox worker)

# Answers after which sending again cannot help; anything else (network, -1 system busy, a token
# still rejected after one refresh) is worth another try later.
PERMANENT_ERRORS = {api.OUT_OF_WINDOW: templates.WINDOW_CLOSED, 43004: templates.UNSUBSCRIBED,
                    40003: templates.BAD_OPENID}


def permanent_reason(exc: api.WechatApiError) -> str | None:
    return PERMANENT_ERRORS.get(exc.errcode) if exc.errcode is not None else None


def _token_in_transaction(session: Session, stale: str | None = None) -> str:
    """api.access_token without committing: the shared cached token, or a new one written in the
    caller's transaction (a separate transaction could wait forever on the caller's own SQLite lock)."""
    settings = get_settings()
    if not settings.wechat_app_id:
        raise api.WechatApiError(None, "WECHAT_APP_ID is not configured")
    row = session.get(WechatAccessToken, settings.wechat_app_id, populate_existing=True)
    if row is not None and as_utc(row.expires_at) > utcnow() and row.access_token != stale:
        return row.access_token
    data = api._call("GET", "/cgi-bin/token", params={"grant_type": "client_credential", "appid": settings.wechat_app_id,
                                                      "secret": settings.wechat_app_secret})
    token, expires_in = data.get("access_token"), int(data.get("expires_in") or 7200)
    if not token:
        raise api.WechatApiError(None, "no access_token in response")
    now = utcnow()
    margin = min(api.REFRESH_MARGIN, dt.timedelta(seconds=expires_in / 10))
    values = {"access_token": token, "expires_at": now + dt.timedelta(seconds=expires_in) - margin, "fetched_at": now}
    if row is None:
        try:
            with session.begin_nested():
                session.add(WechatAccessToken(app_id=settings.wechat_app_id, **values))
            return token
        except IntegrityError:  # another process stored one first: overwrite it with ours
            row = session.get(WechatAccessToken, settings.wechat_app_id, populate_existing=True)
    for key, value in values.items():
        setattr(row, key, value)
    session.flush()
    return token


def send_in_transaction(session: Session, openid: str, text: str) -> None:
    """api.send_text for the outbox worker: commits nothing, raises api.WechatApiError."""
    body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
    token = _token_in_transaction(session)
    try:
        api._call("POST", "/cgi-bin/message/custom/send", params={"access_token": token}, json=body)
    except api.WechatApiError as exc:
        if exc.errcode not in api.TOKEN_INVALID:
            raise
        token = _token_in_transaction(session, stale=token)
        api._call("POST", "/cgi-bin/message/custom/send", params={"access_token": token}, json=body)


# ---------------------------------------------------------------- answering

def _resolve_choice(session: Session, conversation: Conversation, text: str) -> str:
    """A bare number picks a button of the assistant's latest answer (buttons are shown numbered)."""
    if not text.isdigit():
        return text
    latest = session.scalar(select(TranscriptEntry.seq).where(TranscriptEntry.conversation_id == conversation.id,
                                                              TranscriptEntry.author == "resident")
                            .order_by(TranscriptEntry.seq.desc()).limit(1))
    if latest is None:
        return text
    if session.scalar(select(TranscriptEntry.seq).where(
            TranscriptEntry.conversation_id == conversation.id, TranscriptEntry.seq > latest,
            or_(TranscriptEntry.reply_to_seq.is_(None), TranscriptEntry.reply_to_seq != latest)).limit(1)) is not None:
        return text  # something was pushed since (e.g. a rating request): the number is the resident's own words
    buttons = [b for entry in session.scalars(select(TranscriptEntry).where(
        TranscriptEntry.conversation_id == conversation.id, TranscriptEntry.reply_to_seq == latest)
        .order_by(TranscriptEntry.seq)) for b in (entry.buttons or [])]
    number = int(text)
    if 1 <= number <= len(buttons) and buttons[number - 1].get("payload"):
        return buttons[number - 1]["payload"]
    return text


def answer_text(session: Session, openid: str, text: str, client_msg_id: str) -> tuple[str | None, str]:
    """The resident's text through the gateway; returns (reply text or None, conversation id)."""
    conversation, _ = gateway.open_conversation(session, "wechat", openid)
    text = (text or "").strip()
    if not text:
        return EMPTY_TEXT, conversation.id
    text = _resolve_choice(session, conversation, text)
    end_step(session)  # the interaction and the conversation are kept even if the message is refused
    try:
        result = gateway.receive_resident_message(session, conversation, text, client_msg_id)
    except DomainError as exc:  # e.g. too long
        session.rollback()
        return exc.as_dict()["error"]["message"], conversation.id
    mask = masker(session, conversation.id)  # the assistant may name a reference: the resident reads it masked
    replies = [{"text": mask(r.text), "buttons": r.buttons} for r in result["replies"]]
    if replies:
        return render(replies), conversation.id
    if result["conversation"].state == "queued":
        return QUEUED_TEXT, conversation.id
    return None, conversation.id  # with an agent: the agent answers


def answer(session: Session, inbound: Inbound) -> tuple[str | None, str | None]:
    """What the resident should be told for one delivery: (text or None for `success`, conversation id)."""
    openid = inbound.from_user
    if inbound.msg_type == "event":
        if inbound.event == "unsubscribe":
            touch(session, openid, subscribed=False)
            return None, None
        touch(session, openid)
        if inbound.event == "subscribe":
            return WELCOME_TEXT, None
        return None, None  # menu clicks, location reports, scans…: nothing to say
    touch(session, openid)
    client_msg_id = f"wechat:{inbound.msg_id or inbound.create_time}"
    if inbound.msg_type == "text":
        return answer_text(session, openid, inbound.fields.get("Content", ""), client_msg_id)
    if inbound.msg_type == "voice":
        recognised = inbound.fields.get("Recognition", "").strip()
        if not recognised:
            return VOICE_UNRECOGNISED_TEXT, None
        return answer_text(session, openid, recognised, client_msg_id)
    return UNSUPPORTED_TEXT, None
