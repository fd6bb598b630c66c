"""HTTP for cases: create, read, stage changes, visits, history, and the resident status lookup."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.intake import CaseCreate, create_case
from erma.cases.lifecycle import get_case, parse_stage, record_visit, transition
from erma.cases.models import Case, CaseEvent
from erma.cases.presenter import case_view
from erma.db import get_session
from erma.errors import Forbidden
from erma.staff.auth import Principal, get_principal, require_roles
from erma.status.service import lookup_status, status_view

router = APIRouter(prefix="/api/v1", tags=["cases"])


class TransitionIn(BaseModel):
    to: str
    note: str | None = None


class NoteIn(BaseModel):
    note: str | None = None


@router.post("/cases", status_code=201)
def open_case(body: CaseCreate, response: Response,
              idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
              principal: Principal = Depends(require_roles("service", "agent", "admin")),
              session: Session = Depends(get_session)) -> dict:
    case, created = create_case(session, body, principal, idempotency_key)
    if not created:
        response.status_code = 200
    return case_view(session, case, principal)


@router.get("/cases")
def list_cases(town: str | None = None, stage: str | None = None, limit: int = Query(50, le=200),
               principal: Principal = Depends(require_roles("town_reviewer", "agent", "duty_lead", "admin")),
               session: Session = Depends(get_session)) -> dict:
    stmt = select(Case).order_by(Case.created_at.desc()).limit(limit)
    if town:
        if not principal.can_see_town(town):
            raise Forbidden("town_forbidden", "您只能查看本镇的办件")
        stmt = stmt.where(Case.hukou_town_code == town)
    elif not principal.county_wide:
        stmt = stmt.where(Case.hukou_town_code.in_(principal.towns))
    if stage:
        stmt = stmt.where(Case.stage == parse_stage(stage).value)
    return {"items": [case_view(session, c, principal) for c in session.scalars(stmt)]}


@router.get("/cases/{case_no}")
def read_case(case_no: str, principal: Principal = Depends(get_principal),
              session: Session = Depends(get_session)) -> dict:
    return case_view(session, get_case(session, case_no, principal), principal)


@router.get("/cases/{case_no}/events")
def case_history(case_no: str, principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    return {"items": [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "actor_role": e.actor_role,
                       "from": e.from_stage, "to": e.to_stage, "note": e.note} for e in events]}


@router.post("/cases/{case_no}/transitions")
def change_stage(case_no: str, body: TransitionIn, principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    transition(session, case, parse_stage(body.to), principal, body.note)
    session.commit()
    return case_view(session, case, principal)


@router.post("/cases/{case_no}/visits")
def add_visit(case_no: str, body: NoteIn, principal: Principal = Depends(get_principal),
              session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    record_visit(session, case, principal, body.note)
    session.commit()
    return {"case_no": case.case_no, "visits": case.visits}


@router.get("/cases/{case_no}/status")
def case_status(case_no: str, request: Request, last4: str = "", session: Session = Depends(get_session)) -> dict:
    """Public: anyone with the case number and the last four digits of the ID number or phone."""
    client = request.client.host if request.client else "unknown"
    return lookup_status(session, case_no, last4, client)


@router.get("/conversations/{conversation_id}/cases")
def conversation_cases(conversation_id: str, principal: Principal = Depends(require_roles("service", "admin")),
                       session: Session = Depends(get_session)) -> dict:
    cases = session.scalars(select(Case).where(Case.conversation_id == conversation_id)
                            .order_by(Case.created_at.desc(), Case.id.desc())).all()
    return {"items": [status_view(session, c) for c in cases]}
