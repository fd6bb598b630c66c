"""HTTP for cases: create, read, stage changes, visits, history, taking and reassigning (the agent
workbench), and the resident status lookup."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.bounds import MAX_DB_INT, MAX_NOTE
from erma.cases import ownership
from erma.cases.assignment import change_assignment
from erma.cases.intake import CaseCreate, create_case, intake_receipt
from erma.cases.lifecycle import NOTE_REQUIRED, get_case, may_move, parse_stage, transition
from erma.cases.visits import VISIT_ROLES, record_visit
from erma.cases.models import Case, CaseEvent
from erma.cases.presenter import case_view, preload_for_views
from erma.cases.stages import FLOW_ONLY, OPEN_STAGES, STAGE_TEXT, TRANSITIONS, Stage
from erma.cases.workbench import ASSIGNED_FILTERS, case_actions
from erma.db import get_session
from erma.errors import Forbidden, ValidationFailed
from erma.staff.auth import Principal, client_address, get_principal, optional_principal, require_roles
from erma.staff.models import Staff
from erma.status.service import find_cases, lookup_status, status_view

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
              principal: Principal = Depends(require_roles("service", "agent", "admin", "counter_clerk")),
              session: Session = Depends(get_session)) -> dict:
    case, created = create_case(session, body, principal, idempotency_key)
    if not created:
        response.status_code = 200
    return {**case_view(session, case, principal), "receipt": intake_receipt(session, case)}


LIST_ORDERS = {"newest": (Case.created_at.desc(), Case.id.desc()), "oldest": (Case.created_at, Case.id),
               "due": (Case.expected_completion_date, Case.created_at, Case.id)}


@router.get("/cases")
def list_cases(town: str | None = None, stage: str | None = None, limit: int = Query(50, ge=1, le=200),
               assigned: str | None = None, open_only: bool | None = Query(None, alias="open"),
               order: str = "newest", masked: bool = False,
               principal: Principal = Depends(require_roles("town_reviewer", "agent", "duty_lead", "admin")),
               session: Session = Depends(get_session)) -> dict:
    """Filters: `assigned=me` (my cases) or `none` (waiting to be taken); `open=true|false` (still
    being handled or not); `order=newest|oldest|due` (promised date first); `masked=true` masks the
    ID number and phone even for roles that may see them."""
    if order not in LIST_ORDERS:
        raise ValidationFailed("order_unknown", "排序只能是 newest、oldest 或 due", field="order")
    stmt = select(Case).order_by(*LIST_ORDERS[order]).limit(limit)
    if assigned is not None:
        if assigned not in ASSIGNED_FILTERS:
            raise ValidationFailed("assigned_unknown", "assigned 只能是 me 或 none", field="assigned")
        if assigned == "me":
            stmt = stmt.where(Case.agent_id == principal.staff.id)
        else:
            stmt = stmt.where(Case.agent_id.is_(None))
    if open_only is not None:
        open_values = [s.value for s in OPEN_STAGES]
        stmt = stmt.where(Case.stage.in_(open_values) if open_only else Case.stage.not_in(open_values))
    if town:
        if not principal.can_see_town(town):
            raise Forbidden("town_forbidden", "您只能查看本镇的办件")
        stmt = stmt.where(Case.hukou_town_code == town)
    elif not principal.county_wide:
        stmt = stmt.where(Case.hukou_town_code.in_(principal.towns))
    if stage:
        stmt = stmt.where(Case.stage == parse_stage(stage).value)
    cases = session.scalars(stmt).all()
    loaded = preload_for_views(session, cases)  # noqa: F841 — kept alive while the views are built
    return {"items": [case_view(session, c, principal, masked=masked) for c in cases]}


# Registered before the /cases/{case_no} routes, so "lookup" is never taken for a case number.
@router.post("/cases/lookup")
def lookup_cases(body: CaseLookupIn, request: Request, principal: Principal | None = Depends(optional_principal),
                 session: Session = Depends(get_session)) -> dict:
    """Public: a resident who lost the case number finds their cases (at most five, open ones first)
    with the last six characters of the applicant's ID number and the phone's last four digits or the
    applicant's name. The assistant (service token) asks for a conversation (`conversation_id`,
    required): the cases found are bound to it, and failures count per conversation instead of per
    client address."""
    if principal is None or principal.role != "service":
        return {"items": find_cases(session, body.id_last6, body.phone_last4, body.applicant_name,
                                    client_address(request))}
    if not body.conversation_id:
        raise ValidationFailed("conversation_id_required", "请提供会话编号", field="conversation_id")
    return {"items": find_cases(session, body.id_last6, body.phone_last4, body.applicant_name,
                                client_address(request), body.conversation_id)}


@router.get("/cases/{case_no}")
def read_case(case_no: str, masked: bool = False, principal: Principal = Depends(get_principal),
              session: Session = Depends(get_session)) -> dict:
    return case_view(session, get_case(session, case_no, principal), principal, masked=masked)


@router.get("/cases/{case_no}/actions")
def read_actions(case_no: str, principal: Principal = Depends(require_roles("agent", "duty_lead", "admin")),
                 session: Session = Depends(get_session)) -> dict:
    """What this staff member may do with the case now (the agent workbench shows these buttons)."""
    case = get_case(session, case_no, principal)
    transitions = [{**a, "note_required": Stage(a["to"]) in NOTE_REQUIRED} for a in staff_actions(case, principal)]
    return {**case_actions(session, case, principal), "transitions": transitions}


@router.post("/cases/{case_no}/assignment")
def assign(case_no: str, body: AssignmentIn, principal: Principal = Depends(get_principal),
           session: Session = Depends(get_session)) -> dict:
    """An agent of the case's town takes an unassigned case (no `agent_id`, or their own); the duty
    lead or an admin reassigns it (`agent_id` of an agent of that town) or releases it (`null`)."""
    case = get_case(session, case_no, principal, for_update=True)
    change_assignment(session, case, principal, body.agent_id, agent_given="agent_id" in body.model_fields_set,
                      note=body.note)
    session.commit()
    return case_view(session, case, principal)


@router.get("/cases/{case_no}/events")
def case_history(case_no: str, principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal)
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    # Stage names and who acted, in words a page can show as they come.
    usernames = {e.actor.removeprefix("staff:") for e in events if (e.actor or "").startswith("staff:")}
    names = dict(session.execute(select(Staff.username, Staff.display_name)
                                 .where(Staff.username.in_(usernames))).all()) if usernames else {}
    return {"items": [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "actor_role": e.actor_role,
                       "actor_name": _actor_name(e.actor, names),
                       "from": e.from_stage, "to": e.to_stage, "note": e.note,
                       "from_text": _stage_text(e.from_stage), "to_text": _stage_text(e.to_stage)} for e in events]}


ACTOR_NAMES = {"system": "系统", "service": "智能助手", "resident": "居民"}


def _actor_name(actor: str | None, names: dict[str, str]) -> str:
    actor = actor or ""
    if actor.startswith("staff:"):
        return names.get(actor.removeprefix("staff:"), actor.removeprefix("staff:"))
    return ACTOR_NAMES.get(actor, actor)


def _stage_text(stage: str | None) -> str | None:
    try:
        return STAGE_TEXT[Stage(stage)] if stage else None
    except ValueError:
        return stage


@router.post("/cases/{case_no}/transitions")
def change_stage(case_no: str, body: TransitionIn, principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    transition(session, case, parse_stage(body.to), principal, body.note)
    session.commit()
    return case_view(session, case, principal)


@router.post("/cases/{case_no}/visits")
def add_visit(case_no: str, body: VisitIn, principal: Principal = Depends(get_principal),
              session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    record_visit(session, case, principal, body.purpose, body.intake_point, body.note)
    session.commit()
    return {"case_no": case.case_no, "visits": case.visits}


@router.get("/cases/{case_no}/status")
def case_status(case_no: str, request: Request, last4: str = Query(default="", max_length=8),
                conversation_id: str | None = Query(default=None, max_length=128),
                principal: Principal | None = Depends(optional_principal),
                session: Session = Depends(get_session)) -> dict:
    """Public: anyone with the case number and the last four digits of the ID number or phone. The
    assistant (service token) asks for a conversation (`conversation_id`, required): a case bound to
    it needs no digits, and failures are counted per conversation instead of per client address."""
    if principal is None or principal.role != "service":
        return lookup_status(session, case_no, last4, client_address(request))
    if not conversation_id:
        raise ValidationFailed("conversation_id_required", "请提供会话编号", field="conversation_id")
    return lookup_status(session, case_no, last4, client_address(request), conversation_id)


def staff_actions(case: Case, principal: Principal) -> list[dict]:
    """The stage changes this staff member may make with POST …/transitions (not those needing their own flow)."""
    if not principal.can_see_town(case.hukou_town_code):
        return []
    return [{"to": target.value, "text": STAGE_TEXT[target]}
            for target in TRANSITIONS.get(Stage(case.stage), {})
            if target not in FLOW_ONLY and may_move(case, principal, target)]


@router.get("/conversations/{conversation_id}/cases")
def conversation_cases(conversation_id: str,
                       principal: Principal = Depends(require_roles("service", "agent", "duty_lead", "admin")),
                       session: Session = Depends(get_session)) -> dict:
    """The cases bound to a conversation (opened from it, or proved in it; for a WeChat resident also
    those of their other conversations), newest first. Staff see them for conversations they may
    see (an agent: their towns'), with the stage changes they may make and whether they may record a visit."""
    if principal.staff is not None:
        from erma.conversations.service import visible_conversation

        visible_conversation(session, conversation_id, principal)
    cases = ownership.conversation_cases(session, conversation_id)
    if principal.staff is None:
        return {"items": [status_view(session, c) for c in cases]}
    return {"items": [{**status_view(session, c), "actions": staff_actions(c, principal),
                       "can_record_visit": principal.role in VISIT_ROLES and principal.can_see_town(c.hukou_town_code)}
                      for c in cases]}
