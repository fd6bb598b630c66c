"""HTTP for ratings and the duty lead's follow-up tasks."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from erma.cases.ownership import own_case
from erma.db import get_session
from erma.followup.service import complete_task, list_tasks, rate_case, task_view, task_views
from erma.staff.auth import Principal, get_principal, require_roles

router = APIRouter(prefix="/api/v1", tags=["ratings"])


class RatingIn(BaseModel):
    level: int | str
    comment: str | None = None
    channel: str = "web_chat"
    conversation_id: str | None = None


class OutcomeIn(BaseModel):
    outcome: str


@router.post("/cases/{case_no}/rating")
def rate(case_no: str, body: RatingIn, principal: Principal = Depends(require_roles("service", "agent", "admin")),
         session: Session = Depends(get_session)) -> dict:
    """The assistant rates only for a conversation bound to the case (erma/cases/ownership.py); for any
    other conversation the case answers like an unknown one. One rating per case: it is final."""
    case = own_case(session, case_no, principal, body.conversation_id, for_update=True)
    return rate_case(session, case, principal, body.level, body.comment, body.channel)


@router.get("/followup-tasks")
def tasks(status: str = "open", principal: Principal = Depends(get_principal),
          session: Session = Depends(get_session)) -> dict:
    return {"items": task_views(session, list_tasks(session, principal, status))}


@router.post("/followup-tasks/{task_id}/complete")
def complete(task_id: int, body: OutcomeIn, principal: Principal = Depends(get_principal),
             session: Session = Depends(get_session)) -> dict:
    return task_view(session, complete_task(session, task_id, principal, body.outcome))
