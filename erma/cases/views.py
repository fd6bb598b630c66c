"""HTTP for cases: create, read, stage changes, visits, history, taking and reassigning (the agent
workbench), and the resident status lookup."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_DB_INT, MAX_NOTE
from erma.cases import listing, ownership
from erma.cases.assignment import change_assignment
from erma.cases.intake import CaseCreate, create_case, intake_receipt
from erma.cases.lifecycle import get_case, parse_stage, transition
from erma.cases.presenter import case_view
from erma.cases.visits import may_record_visit, record_visit
from erma.cases.workbench import case_actions
from erma.conversations.service import visible_conversation
from erma.errors import ValidationFailed
from erma.permissions import Permission, Role
from erma.staff.auth import Principal, client_address, get_principal, optional_principal, require
from erma.status.service import find_cases, lookup_status, status_view
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/api/v1", tags=["cases"])


class TransitionIn(BaseModel):
    to: str = Field(max_length=32)
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class VisitIn(NoteIn):
    # Default: a hand-in (the old button's meaning); the place defaults to the recorder's own intake point.
    purpose: str = Field(default="hand_in", max_length=20)
    intake_point: str | None = Field(default=None, max_length=64)


class CaseLookupIn(BaseModel):
    # Bounded loosely: the format (six characters, digits with an optional final X; four digits) is
    # checked by erma.status.service.find_cases, which answers in Chinese.
    id_last6: str = Field(max_length=16)
    phone_last4: str | None = Field(default=None, max_length=16)
    applicant_name: str | None = Field(default=None, max_length=64)
    conversation_id: str | None = Field(default=None, max_length=128)


class AssignmentIn(BaseModel):
    # An agent leaves it out (takes the case); a duty lead names one, or null.
    agent_id: int | None = Field(default=None, ge=1, le=MAX_DB_INT)
    note: str | None = Field(default=None, max_length=MAX_NOTE)


@router.post("/cases", status_code=201)
def open_case(body: CaseCreate, response: Response,
              idempotency_key: str | None = Header(default=None, alias="Idempotency-Key", max_length=128),
              principal: Principal = Depends(require(Permission.OPEN_CASE)),
              session: Session = SESSION) -> dict:
    case, created = create_case(session, body, principal, idempotency_key)
    if not created:
        response.status_code = 200
    return {**case_view(session, case, principal), "receipt": intake_receipt(session, case)}


@router.get("/cases")
def list_cases(town: str | None = None, stage: str | None = None, limit: int = Query(50, ge=1, le=200),
               offset: int = Query(0, ge=0, le=MAX_DB_INT),
               assigned: str | None = None, open_only: bool | None = Query(None, alias="open"),
               order: str = "newest", masked: bool = False,
               principal: Principal = Depends(require(Permission.LIST_CASES)),
               session: Session = SESSION) -> dict:
    """Filters: `assigned=me` (my cases) or `none` (waiting to be taken); `open=true|false` (still
    being handled or not); `order=newest|oldest|due` (promised date first); `masked=true` masks the
    ID number and phone even for roles that may see them. One page of `limit` from `offset`;
    `next_offset` asks for the next (null: the last page)."""
    items, next_offset = listing.list_cases(session, principal, town=town, stage=stage, limit=limit,
                                            assigned=assigned, open_only=open_only, order=order, masked=masked,
                                            offset=offset)
    return {"items": items, "next_offset": next_offset}


# Registered before the /cases/{case_no} routes, so "lookup" is never taken for a case number.
@router.post("/cases/lookup")
def lookup_cases(body: CaseLookupIn, request: Request, principal: Principal | None = Depends(optional_principal),
                 session: Session = SESSION) -> dict:
    """Public: a resident who lost the case number finds their cases (at most five, open ones first)
    with the last six characters of the applicant's ID number and the phone's last four digits or the
    applicant's name. The assistant (service token) asks for a conversation (`conversation_id`,
    required): the cases found are bound to it, and failures count per conversation instead of per
    client address."""
    if principal is None or principal.role != Role.SERVICE:
        return {"items": find_cases(session, body.id_last6, body.phone_last4, body.applicant_name,
                                    client_address(request))}
    if not body.conversation_id:
        raise ValidationFailed("conversation_id_required", "请提供会话编号", field="conversation_id")
    return {"items": find_cases(session, body.id_last6, body.phone_last4, body.applicant_name,
                                client_address(request), body.conversation_id)}


@router.get("/cases/{case_no}")
def read_case(case_no: str, masked: bool = False, principal: Principal = Depends(get_principal),
              session: Session = SESSION) -> dict:
    return case_view(session, get_case(session, case_no, principal), principal, masked=masked)


@router.get("/cases/{case_no}/actions")
def read_actions(case_no: str, principal: Principal = Depends(require(Permission.WORKBENCH)),
                 session: Session = SESSION) -> dict:
    """What this staff member may do with the case now (the agent workbench shows these buttons)."""
    case = get_case(session, case_no, principal)
    return {**case_actions(session, case, principal), "transitions": listing.transition_choices(case, principal)}


@router.post("/cases/{case_no}/assignment")
def assign(case_no: str, body: AssignmentIn, principal: Principal = Depends(get_principal),
           session: Session = SESSION) -> dict:
    """An agent of the case's town takes an unassigned case (no `agent_id`, or their own); the duty
    lead or an admin reassigns it (`agent_id` of an agent of that town) or releases it (`null`)."""
    case = get_case(session, case_no, principal, for_update=True)
    change_assignment(session, case, principal, body.agent_id, agent_given="agent_id" in body.model_fields_set,
                      note=body.note)
    return case_view(session, case, principal)


@router.get("/cases/{case_no}/events")
def case_history(case_no: str, principal: Principal = Depends(get_principal),
                 session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal)
    return {"items": listing.case_history(session, case)}


@router.post("/cases/{case_no}/transitions")
def change_stage(case_no: str, body: TransitionIn, principal: Principal = Depends(get_principal),
                 session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    transition(session, case, parse_stage(body.to), principal, body.note)
    return case_view(session, case, principal)


@router.post("/cases/{case_no}/visits")
def add_visit(case_no: str, body: VisitIn, principal: Principal = Depends(get_principal),
              session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    record_visit(session, case, principal, body.purpose, body.intake_point, body.note)
    return {"case_no": case.case_no, "visits": case.visits}


@router.get("/cases/{case_no}/status")
def case_status(case_no: str, request: Request, last4: str = Query(default="", max_length=8),
                conversation_id: str | None = Query(default=None, max_length=128),
                principal: Principal | None = Depends(optional_principal),
                session: Session = SESSION) -> dict:
    """Public: anyone with the case number and the last four digits of the ID number or phone. The
    assistant (service token) asks for a conversation (`conversation_id`, required): a case bound to
    it needs no digits, and failures are counted per conversation instead of per client address."""
    if principal is None or principal.role != Role.SERVICE:
        return lookup_status(session, case_no, last4, client_address(request))
    if not conversation_id:
        raise ValidationFailed("conversation_id_required", "请提供会话编号", field="conversation_id")
    return lookup_status(session, case_no, last4, client_address(request), conversation_id)


@router.get("/conversations/{conversation_id}/cases")
def conversation_cases(conversation_id: str,
                       principal: Principal = Depends(require(Permission.CONVERSATION_CASES)),
                       session: Session = SESSION) -> dict:
    """The cases bound to a conversation (opened from it, or proved in it; for a WeChat resident also
    those of their other conversations), newest first. Staff see them for conversations they may
    see (an agent: their towns'), with the stage changes they may make and whether they may record a visit."""
    if principal.staff is not None:
        visible_conversation(session, conversation_id, principal)
    cases = ownership.conversation_cases(session, conversation_id)
    if principal.staff is None:
        return {"items": [status_view(session, c) for c in cases]}
    return {"items": [{**status_view(session, c), "actions": listing.staff_actions(c, principal),
                       "can_record_visit": may_record_visit(c, principal)}
                      for c in cases]}
