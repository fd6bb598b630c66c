"""HTTP for ratings and the duty lead's follow-up tasks."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_DB_INT, MAX_NOTE, PAGE_DEFAULT, PAGE_MAX
from erma.cases.ownership import own_case
from erma.unit_of_work import SESSION
from erma.followup.levels import levels_view, parse_level
from erma.followup.service import comment_from, complete_task, list_tasks, rate_case, task_view, task_views
from erma.permissions import Permission
from erma.staff.auth import Principal, get_principal, require

router = APIRouter(prefix="/api/v1", tags=["ratings"])


class RatingIn(BaseModel):
    # A level (1..5) or the resident's words for it ("很满意", "打5分", "还行"): the platform reads them
    # (erma/followup/levels.py). Absent or unreadable: `said` is read instead.
    level: Annotated[int, Field(ge=-100, le=100)] | Annotated[str, Field(max_length=64)] | None = None
    comment: str | None = Field(default=None, max_length=MAX_NOTE)
    # The resident's whole message ("不满意，星期天转人工半天都没人理"): what it says beyond the level
    # becomes the comment when none is given.
    said: str | None = Field(default=None, max_length=MAX_NOTE)
    channel: str = Field(default="web_chat", max_length=20)
    conversation_id: str | None = Field(default=None, max_length=128)


class OutcomeIn(BaseModel):
    outcome: str = Field(max_length=MAX_NOTE)


@router.post("/cases/{case_no}/rating")
def rate(case_no: str, body: RatingIn, principal: Principal = Depends(require(Permission.RATE)),
         session: Session = SESSION) -> dict:
    """The assistant rates only for a conversation bound to the case (erma/cases/ownership.py); for any
    other conversation the case answers like an unknown one. One rating per case: it is final.
    Words that name no level are 422 `rating_level_invalid` (the assistant then offers the levels)."""
    level = parse_level(body.level, body.said)
    case = own_case(session, case_no, principal, body.conversation_id, for_update=True)
    comment = body.comment if body.comment is not None else comment_from(body.said)
    return rate_case(session, case, principal, level, comment, body.channel)


@router.get("/ratings/levels")
def rating_levels() -> dict:
    """The five 好差评 levels, best first, as the assistant offers them (no personal data, no token)."""
    return {"items": levels_view()}


@router.get("/followup-tasks")
def tasks(status: str = Query(default="open", max_length=16),
          limit: int = Query(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX),
          offset: int = Query(default=0, ge=0, le=MAX_DB_INT),
          principal: Principal = Depends(get_principal), session: Session = SESSION) -> dict:
    """One page of the follow-up tasks, earliest due first; `next_offset` asks for the next (null: the last page)."""
    page, next_offset = list_tasks(session, principal, status, limit, offset)
    return {"items": task_views(session, page), "next_offset": next_offset}


@router.post("/followup-tasks/{task_id}/complete")
def complete(task_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)], body: OutcomeIn,
             principal: Principal = Depends(get_principal),
             session: Session = SESSION) -> dict:
    return task_view(session, complete_task(session, task_id, principal, body.outcome))
