"""HTTP for the residents' web chat: the page, its static files, and a small JSON + SSE API.

Every API call carries the conversation's token (see tokens.py) — in the JSON body, as
`Authorization: Bearer …`, or as `?token=` (EventSource cannot send headers; the log filter masks
`token=` in logged URLs). No endpoint takes a conversation id.
"""
from __future__ import annotations

import collections
import time
from pathlib import Path

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from erma.bounds import MAX_DB_INT, MAX_MESSAGE
from erma.conversations import service
from erma.unit_of_work import SESSION, unit_of_work
from erma.errors import NotFound, TooManyRequests
from erma.webchat import limits, presenter, stream, tokens

router = APIRouter(tags=["web chat"])

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"chat.css": "text/css; charset=utf-8", "chat.js": "text/javascript; charset=utf-8"}
# Everything the page needs comes from this server: no CDN, no inline script.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                           "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache"}
# New conversations per client address and window (a cheap brake on scripts). Kept per process on
# purpose: storing residents' addresses to count them across processes is personal data we do not keep,
# and the brake needs no exactness — with N web processes an address may open up to N × this many.
# What must hold exactly is in the database: messages per conversation (limits.py), sign-in failures.
# Generous: many phones share one carrier address, and a resident's page keeps its conversation.
CONVERSATIONS_PER_WINDOW = 120
CONVERSATION_WINDOW_SECONDS = 600
MAX_PAYLOAD = 500


class MessageIn(BaseModel):
    token: str | None = Field(default=None, max_length=512)
    text: str = Field(max_length=MAX_MESSAGE)  # the gateway says "too long" in Chinese from 2000 on
    # A quick-reply button's payload: the assistant gets it, the transcript shows `text` (the title).
    payload: str | None = Field(default=None, max_length=MAX_PAYLOAD)
    client_msg_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _conversation(session: Session, token: str | None):
    return service.get_conversation(session, tokens.conversation_id_from(token))


# ---------------------------------------------------------------- the page

@router.get("/chat", include_in_schema=False)
def chat_page() -> FileResponse:
    return FileResponse(STATIC / "chat.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/chat/static/{name}", include_in_schema=False)
def chat_asset(name: str) -> FileResponse:
    if name not in ASSETS:  # a fixed list: nothing else on disk is reachable
        raise NotFound("not_found", "没有这个文件")
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"})


# ---------------------------------------------------------------- the API

def _limit_new_conversations(request: Request) -> None:
    buckets = getattr(request.app.state, "webchat_new_conversations", None)
    if buckets is None:
        buckets = request.app.state.webchat_new_conversations = collections.defaultdict(collections.deque)
    now = time.monotonic()
    address = request.client.host if request.client else "unknown"
    recent = buckets[address]
    while recent and now - recent[0] > CONVERSATION_WINDOW_SECONDS:
        recent.popleft()
    if len(recent) >= CONVERSATIONS_PER_WINDOW:
        raise TooManyRequests("too_many_conversations", "操作太频繁了，请过几分钟再试",
                              retry_after=int(CONVERSATION_WINDOW_SECONDS - (now - recent[0])) + 1)
    recent.append(now)


@router.post("/chat/api/conversations", status_code=201)
def open_chat(request: Request, session: Session = SESSION) -> dict:
    """A new web-chat conversation (the assistant answers) and the token that alone grants it."""
    _limit_new_conversations(request)
    conversation, _ = service.open_conversation(session, "web_chat")
    return {"token": tokens.issue(conversation.id),
            "conversation": presenter.conversation_view(session, conversation)}


@router.get("/chat/api/transcript")
def chat_transcript(after_seq: int = Query(default=0, ge=0, le=MAX_DB_INT),
                    token: str | None = Query(default=None, max_length=512),
                    authorization: str | None = Header(default=None),
                    session: Session = SESSION) -> dict:
    """What the resident may see after `after_seq`; call again with `next_after_seq` while `has_more`."""
    conversation = _conversation(session, _bearer(authorization) or token)
    raw = service.transcript(session, conversation, after_seq, stream.BATCH + 1)
    page = raw[:stream.BATCH]
    result = {"conversation": presenter.conversation_view(session, conversation),
              "entries": presenter.entries_view(session, page), "has_more": len(raw) > stream.BATCH,
              "next_after_seq": page[-1].seq if page else after_seq}
    return result


@router.post("/chat/api/messages")
async def chat_message(body: MessageIn, authorization: str | None = Header(default=None),
                       session: Session = SESSION) -> dict:
    """The resident's message (or tapped button). Re-sending the same `client_msg_id` stores nothing
    new and returns the first answer, so the page may retry after any network error.
    Async: the database steps run in the threadpool, Rasa is awaited (service.answer_resident_message)."""
    token = body.token or _bearer(authorization)

    def find(session: Session):
        conversation = _conversation(session, token)
        limits.limit_messages(session, conversation.id, body.client_msg_id)
        return conversation

    if body.payload is not None:
        return await service.answer_resident_message(session, find, body.payload, body.client_msg_id,
                                                     _message_view, display_text=body.text)
    return await service.answer_resident_message(session, find, body.text, body.client_msg_id, _message_view)


def _message_view(session: Session, result: dict) -> dict:
    return {"entry": presenter.entry_view(session, result["entry"]),
            "replies": presenter.entries_view(session, result["replies"]),
            "duplicate": result["duplicate"],
            "conversation": presenter.conversation_view(session, result["conversation"])}


@router.get("/chat/api/events")
async def chat_events(request: Request, token: str | None = Query(default=None, max_length=512),
                      after_seq: int = Query(default=0, ge=0, le=MAX_DB_INT),
                      last_event_id: str | None = Header(default=None, max_length=20)) -> StreamingResponse:
    """Server-Sent Events: `entry` (id = seq) and `state`. Resumes after the larger of `after_seq`
    and `Last-Event-ID` (sent by the browser when it reconnects)."""
    conversation_id = tokens.conversation_id_from(token)
    try:
        resume = max(after_seq, min(int(last_event_id or 0), MAX_DB_INT))
    except ValueError:
        resume = after_seq
    await run_in_threadpool(_exists, conversation_id)
    return StreamingResponse(stream.events(conversation_id, resume, request.is_disconnected),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _exists(conversation_id: str) -> None:
    with unit_of_work() as session:
        service.get_conversation(session, conversation_id)  # 404 before the stream starts
