"""HTTP for understanding (docs/platform-api.md §Understanding): the assistant asks what a message means."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_MESSAGE
from erma.catalog.views import item_answer, mark_catalog_version
from erma.unit_of_work import SESSION, reads_only
from erma.permissions import Permission
from erma.staff.auth import Principal, require
from erma.understanding.resolve import resolve
from erma.understanding.service import understand

# The answers name the catalog's version (the assistant keeps the items it has read; catalog/views.py).
router = APIRouter(prefix="/api/v1/understand", tags=["understanding"], dependencies=[Depends(mark_catalog_version)])


class UnderstandIn(BaseModel):
    text: str = Field(max_length=MAX_MESSAGE, description="居民发来的一句话")


class ResolveIn(BaseModel):
    text: str = Field(default="", max_length=MAX_MESSAGE, description="居民发来的整句话")
    phrase: str | None = Field(default=None, max_length=MAX_MESSAGE, description="句中说事项的词，如“残疾证”")
    # With `answer`, one item found comes with its one-time answer (as GET /api/v1/services/{code}/answer).
    answer: bool = Field(default=False, description="找到一个事项时，一并给出一次性告知")
    town: str | None = Field(default=None, max_length=32, description="居民的户籍镇（一次性告知用）")
    fact: str | None = Field(default=None, max_length=16, description="先回答的细节（一次性告知用）")


@router.post("")
@reads_only
def understand_message(body: UnderstandIn, _: Principal = Depends(require(Permission.CONVERSATIONS_CHANNEL)),
                       session: Session = SESSION) -> dict:
    """Which item and which behaviour the message means: `behaviour` requirements | apply | status |
    out_of_scope | other; `item` and `name` when one item is meant; `choices` for a close call;
    `fact` the detail asked first (photo, in_person, eligibility, time, fee)."""
    return understand(session, body.text).as_dict()


@router.post("/resolve")
@reads_only
def resolve_item(body: ResolveIn, request: Request,
                 _: Principal = Depends(require(Permission.CONVERSATIONS_CHANNEL)),
                 session: Session = SESSION) -> dict:
    """Which item a phrase means, read with its message (erma/understanding/resolve.py): `item` and
    `name` for one item, `choices` for a close call the resident settles, neither for nothing;
    `source` says what settled it (code | message | phrase). With `answer: true` and one item found,
    `answer` is that item's one-time answer (town, fact as for `GET /api/v1/services/{code}/answer`):
    the assistant's requirement answer in one call."""
    found = resolve(session, body.text, body.phrase).as_dict()
    if body.answer and found["item"]:
        found["answer"] = item_answer(session, request, found["item"], body.town, body.fact)
    return found
