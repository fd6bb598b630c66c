"""Moving a case between stages: only allowed transitions, by allowed roles, always recorded."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.events import StageChanged
from erma.cases.materials import require_ready
from erma.cases.models import Case, CaseEvent
from erma.cases.stages import FLOW_ONLY, HOLDER, STAGE_TEXT, Stage, allowed_roles, role_may
from erma.cases.timing import shift_for_pause
from erma.clock import today_local
from erma.db import as_utc, utcnow
from erma.errors import Conflict, Forbidden, NotFound, ValidationFailed
from erma.events import publish
from erma.permissions import Role
from erma.staff.auth import Principal


def case_not_found(case_no: str) -> NotFound:
    """The one answer for an unknown case and for a case the caller may not see or act on."""
    return NotFound("case_not_found", f"没有找到办件“{case_no}”")


def get_case(session: Session, case_no: str, principal: Principal, *, for_update: bool = False) -> Case:
    """The case if this principal may see it; otherwise the same 404 as an unknown case."""
    stmt = select(Case).where(Case.case_no == (case_no or "").strip().upper())
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None or not principal.can_see_case(case.hukou_town_code, case.intake_point_code):
        raise case_not_found(case_no)
    return case


def parse_stage(value: str) -> Stage:
    try:
        return Stage(value)
    except ValueError:
        raise ValidationFailed("stage_unknown", f"没有“{value}”这个办理阶段", field="to") from None


def holds_case(case: Case, principal: Principal) -> bool:
    """The caller is the agent carrying the case."""
    return principal.staff is not None and case.agent_id == principal.staff.id


def may_move(case: Case, principal: Principal, target: Stage) -> bool:
    """The lifecycle table allows this caller to move the case to `target` (the move exists and the
    caller's role, or their holding the case, is among those named for it)."""
    roles = allowed_roles(Stage(case.stage), target)
    return roles is not None and role_may(roles, principal.role, holds_case(case, principal))


# Stages a case enters only with every required material in, or covered by its 容缺 (issue 13 gates).
MATERIALS_GATED = frozenset({Stage.AT_DEPARTMENT, Stage.COMPLETED})

# Stages whose note is required, and the message when it is missing (the note of 办结 is the result).
NOTE_REQUIRED = {Stage.COMPLETED: "办结时请写明办理结果"}


def transition(session: Session, case: Case, target: Stage, principal: Principal, note: str | None = None,
               *, flow: bool = False, now: dt.datetime | None = None, announce: bool = True,
               opened: bool = False, flush: bool = True) -> CaseEvent:
    """Change the stage or raise: 409 for a move the lifecycle does not allow, 403 for a role
    that may not make it. Does not commit: the caller's flow commits with its own records.

    Publishes StageChanged (erma/cases/events.py) in the same transaction; its listeners tell the
    resident. `announce=False` when the flow tells the resident itself (an event of its own, such as
    a review decision, or its own answer).

    `opened`: the case was just created (erma/cases/intake.py) and this records its first move, from
    no stage, checked against the table's opening move like any other.

    `flush=False` (only with `announce=False`): the event gets its id at the caller's next flush, so
    intake writes its moves in one flush; nothing that follows from an unannounced move names it."""
    if not flush and announce:
        raise ValueError("an announced move is flushed: what follows from it names the event")
    current = None if opened else Stage(case.stage)
    roles = allowed_roles(current, target)
    if roles is None and current is None:
        raise ValueError(f"a case is opened into {Stage.RECEIVED.value}, not {target.value}")
    if roles is None:
        raise Conflict("transition_not_allowed",
                       f"办件当前为“{STAGE_TEXT[current]}”，不能变为“{STAGE_TEXT[target]}”",
                       current=current.value, target=target.value)
    if target in FLOW_ONLY and not flow:
        raise Conflict("transition_needs_flow", FLOW_ONLY[target], current=current.value, target=target.value)
    if not role_may(roles, principal.role, holds_case(case, principal)):
        if principal.role == Role.AGENT and HOLDER in roles:
            raise Forbidden("transition_forbidden", f"这件不在您名下，不能把它变为“{STAGE_TEXT[target]}”；"
                                                    "需要时请轮值组长改派给您")
        raise Forbidden("transition_forbidden", f"您的角色不能把办件变为“{STAGE_TEXT[target]}”")
    if target in NOTE_REQUIRED and not (note or "").strip():
        raise ValidationFailed("result_required", NOTE_REQUIRED[target], field="note")
    if target in MATERIALS_GATED:
        require_ready(session, case, STAGE_TEXT[target])

    now = now or utcnow()
    if current == Stage.RETURNED and target == Stage.TOWN_REVIEW:
        case.expected_completion_date = shift_for_pause(
            case.expected_completion_date, today_local(as_utc(case.stage_changed_at)), today_local(now))
    if target == Stage.COMPLETED:
        case.result = note.strip()
    # `case=`: the dashboard's watcher finds the case's day on the event without reading the case again.
    event = CaseEvent(case_id=case.id, case=case, kind="transition", actor=principal.actor,
                      actor_role=principal.role, from_stage=current.value if current else None,
                      to_stage=target.value, note=note, at=now)
    session.add(event)
    case.stage = target.value
    case.stage_changed_at = now
    if flush:
        session.flush()  # the event's id names what follows from it (e.g. the push)
    publish(session, StageChanged(case=case, event=event, now=now, announce=announce))
    return event
