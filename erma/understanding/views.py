"""HTTP for understanding (docs/platform-api.md §Understanding): the assistant asks what a message means."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_MESSAGE
from erma.unit_of_work import SESSION
from erma.permissions import Permission
from erma.staff.auth import Principal, require
from erma.understanding.resolve import resolve
from erma.understanding.service import understand

router = APIRouter(prefix="/api/v1/understand", tags=["understanding"])


class UnderstandIn(BaseModel):
    text: str = Field(max_length=MAX_MESSAGE, description="居民发来的一句话")


class ResolveIn(BaseModel):
    text: str = Field(default="", max_length=MAX_MESSAGE, description="居民发来的整句话")
    phrase: str | None = Field(default=None, max_length=MAX_MESSAGE, description="句中说事项的词，如“残疾证”")


@router.post("")
def understand_message(body: UnderstandIn, _: Principal = Depends(require(Permission.CONVERSATIONS_CHANNEL)),
                       session: Session = SESSION) -> dict:
    """Which item and which behaviour the message means: `behaviour` requirements | apply | status |
    out_of_scope | other; `item` and `name` when one item is meant; `choices` for a close call;
    `fact` the detail asked first (photo, in_person, eligibility, time, fee)."""
    return understand(session, body.text).as_dict()


@router.post("/resolve")
def resolve_item(body: ResolveIn, _: Principal = Depends(require(Permission.CONVERSATIONS_CHANNEL)),
                 session: Session = SESSION) -> dict:
    """Which item a phrase means, read with its message (erma/understanding/resolve.py): `item` and
    `name` for one item, `choices` for a close call the resident settles, neither for nothing;
    `source` says what settled it (code | message | phrase)."""
    return resolve(session, body.text, body.phrase).as_dict()
