"""HTTP for handing a conversation to a person (erma/conversations/handoff.py)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.conversations.handoff import request_handoff
from erma.permissions import Permission
from erma.staff.auth import Principal, require
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/api/v1", tags=["handoff"])


class HandoffIn(BaseModel):
    conversation_id: str = Field(max_length=128)
    channel: str = Field(default="web_chat", max_length=20)
    reason: str = Field(default="requested", max_length=32)
    # Optional: the household town, when the assistant already knows it.
    town_code: str | None = Field(default=None, max_length=12)


@router.post("/handoffs")
def handoff(body: HandoffIn, _: Principal = Depends(require(Permission.CONVERSATIONS_CHANNEL)),
            session: Session = SESSION) -> dict:
    return request_handoff(session, body.conversation_id, body.channel, body.reason, town_code=body.town_code)
