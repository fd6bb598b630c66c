"""HTTP for the conversation gateway: residents' messages in (via a channel, service token),
transcripts for reconnecting clients, and the agents' inbox and actions.

`GET /api/v1/conversations/{id}/cases` belongs to erma/cases/views.py; nothing here clashes with it.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_DB_INT, MAX_MESSAGE, PAGE_DEFAULT, PAGE_MAX
from erma.conversations import service
from erma.conversations.presenter import conversation_view, entry_view
from erma.db import utcnow
from erma.pii_refs.service import masker
from erma.permissions import Permission
from erma.staff.auth import Principal, require
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/api/v1", tags=["conversations"])

CHANNEL = require(Permission.CONVERSATIONS_CHANNEL)
STAFF = require(Permission.CONVERSATIONS_STAFF)
CHANNEL_OR_STAFF = require(Permission.CONVERSATIONS_CHANNEL, Permission.CONVERSATIONS_STAFF)


class OpenIn(BaseModel):
    channel: str = Field(default="web_chat", max_length=16)
    external_user_id: str | None = Field(default=None, max_length=128)


class MessageIn(BaseModel):
    text: str = Field(max_length=MAX_MESSAGE)
    # Leave it out, or name the message: an empty one would be a key shared by every message.
    client_msg_id: str | None = Field(default=None, min_length=1, max_length=128)


@router.post("/conversations", status_code=201)
def open_conversation(body: OpenIn, response: Response, _: Principal = Depends(CHANNEL),
                      session: Session = SESSION) -> dict:
    """Opens a conversation in the bot state (or returns the channel user's open one, 200)."""
    conversation, created = service.open_conversation(session, body.channel, body.external_user_id)
    if not created:
        response.status_code = 200
    return conversation_view(session, conversation)


@router.get("/conversations/{conversation_id}")
def read_conversation(conversation_id: str, principal: Principal = Depends(CHANNEL_OR_STAFF),
                      session: Session = SESSION) -> dict:
    return conversation_view(session, service.visible_conversation(session, conversation_id, principal))


@router.post("/conversations/{conversation_id}/messages")
async def resident_message(conversation_id: str, body: MessageIn, _: Principal = Depends(CHANNEL),
                           session: Session = SESSION) -> dict:
    """A resident's message, from the channel. Re-sending the same `client_msg_id` is harmless.
    Async: the database steps run in the threadpool, Rasa is awaited (service.answer_resident_message)."""
    return await service.answer_resident_message(
        session, lambda session: service.get_conversation(session, conversation_id), body.text, body.client_msg_id,
        _message_view)


def _message_view(session: Session, result: dict) -> dict:
    conversation = result["conversation"]
    mask = masker(session, conversation.id)
    return {"entry": entry_view(result["entry"], mask), "replies": [entry_view(r, mask) for r in result["replies"]],
            "duplicate": result["duplicate"], "forwarded_to_assistant": result["forwarded"],
            "conversation": conversation_view(session, conversation)}


@router.get("/conversations/{conversation_id}/transcript")
def read_transcript(conversation_id: str, after_seq: int = Query(default=0, ge=0, le=MAX_DB_INT),
                    limit: int = Query(default=200, ge=1, le=500),
                    principal: Principal = Depends(CHANNEL_OR_STAFF),
                    session: Session = SESSION) -> dict:
    """Entries with seq > after_seq, in order; call again with the last seq while `has_more`."""
    conversation = service.visible_conversation(session, conversation_id, principal)
    entries = service.transcript(session, conversation, after_seq, limit + 1)
    mask = masker(session, conversation.id)
    return {"conversation": conversation_view(session, conversation),
            "entries": [entry_view(e, mask) for e in entries[:limit]], "has_more": len(entries) > limit}


@router.get("/agent/inbox")
def agent_inbox(limit: int = Query(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX),
                offset: int = Query(default=0, ge=0, le=MAX_DB_INT),
                principal: Principal = Depends(STAFF),
                session: Session = SESSION) -> dict:
    """Queued conversations of the agent's towns (and those without a town yet), longest waiting first;
    one page, `next_offset` asks for the next (null: the last page)."""
    now = utcnow()
    items = []
    page, next_offset = service.inbox(session, principal, limit, offset)
    for conversation in page:
        view = conversation_view(session, conversation)
        view["wait_seconds"] = service.wait_seconds(conversation, now)
        items.append(view)
    return {"items": items, "next_offset": next_offset}


@router.get("/agent/conversations")
def agent_conversations(mine: bool = Query(default=True),
                        limit: int = Query(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX),
                        offset: int = Query(default=0, ge=0, le=MAX_DB_INT),
                        principal: Principal = Depends(STAFF), session: Session = SESSION) -> dict:
    """Conversations with an agent now: the caller's own (`mine=1`), or all the caller may see (`mine=0`),
    most recently active first; one page, `next_offset` asks for the next (null: the last page)."""
    page, next_offset = service.with_agents(session, principal, mine, limit, offset)
    return {"items": [conversation_view(session, c) for c in page], "next_offset": next_offset}


@router.post("/conversations/{conversation_id}/take")
def take(conversation_id: str, principal: Principal = Depends(STAFF),
         session: Session = SESSION) -> dict:
    conversation = service.visible_conversation(session, conversation_id, principal)
    return conversation_view(session, service.take(session, conversation, principal))


@router.post("/conversations/{conversation_id}/reply")
def reply(conversation_id: str, body: MessageIn, principal: Principal = Depends(STAFF),
          session: Session = SESSION) -> dict:
    conversation = service.visible_conversation(session, conversation_id, principal)
    entry = service.agent_reply(session, conversation, principal, body.text, body.client_msg_id)
    return entry_view(entry, masker(session, conversation.id))


@router.post("/conversations/{conversation_id}/hand-back")
def hand_back(conversation_id: str, principal: Principal = Depends(STAFF),
              session: Session = SESSION) -> dict:
    conversation = service.visible_conversation(session, conversation_id, principal)
    return conversation_view(session, service.hand_back(session, conversation, principal))


@router.post("/conversations/{conversation_id}/close")
def close(conversation_id: str, principal: Principal = Depends(CHANNEL_OR_STAFF),
          session: Session = SESSION) -> dict:
    conversation = service.visible_conversation(session, conversation_id, principal)
    return conversation_view(session, service.close(session, conversation, principal))
