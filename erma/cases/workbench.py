"""What the agent workbench offers a staff member for one case: whose case it is, whether they may
take it, record a visit, and what they may do with its 容缺 deferral. Every answer comes from the
rule that decides it (assignment, lifecycle, deferral), so a page shows a button only when the
platform would accept the request behind it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.lifecycle import may_move
from erma.cases.visits import may_record_visit
from erma.cases.models import Case
from erma.cases.stages import ENDED_STAGES, Stage
from erma.catalog.service import get_item
from erma.deferral.models import Deferral
from erma.deferral.rules import check_deferral_allowed
from erma.errors import DomainError
from erma.permissions import Permission, may
from erma.staff.auth import Principal

ASSIGNED_FILTERS = ("me", "none")


def holder_of(case: Case, principal: Principal) -> str:
    """"me", "none" (waiting in the town's unassigned cases) or "other"."""
    if case.agent_id is None:
        return "none"
    return "me" if principal.staff is not None and case.agent_id == principal.staff.id else "other"


def _deferral_opens(session: Session, case: Case) -> list[str]:
    """The materials that may be deferred when a deferral may be opened now, else []."""
    item = get_item(session, case.service_code)
    deferrable = [m.name for m in item.materials if m.deferrable] if item else []
    if not deferrable:
        return []
    try:
        check_deferral_allowed(item, case.stage, deferrable[:1])
    except DomainError:
        return []
    return deferrable


def case_actions(session: Session, case: Case, principal: Principal) -> dict:
    """The case's workbench actions for this principal (stage changes are listed by the caller)."""
    ended = Stage(case.stage) in ENDED_STAGES
    holder = holder_of(case, principal)
    deferral = session.scalar(select(Deferral).where(Deferral.case_id == case.id))
    may_defer = may(principal.role, Permission.DEFER)
    may_open = may_defer and deferral is None and may_move(case, principal, Stage.DEFERRAL_ACCEPTED)
    openable = _deferral_opens(session, case) if may_open else []
    return {
        "case_no": case.case_no,
        "holder": holder,
        "can_take": (may(principal.role, Permission.TAKE_CASE) and holder == "none" and not ended
                     and case.hukou_town_code in principal.towns),
        "can_reassign": may(principal.role, Permission.REASSIGN) and not ended,
        "can_record_visit": may_record_visit(case, principal),
        "can_record_materials": (may(principal.role, Permission.RECEIVE_MATERIALS, holds_case=holder == "me")
                                 and not ended),
        "deferral": {
            "exists": deferral is not None,
            "can_open": bool(openable),
            "deferrable_materials": openable,
            "can_print": deferral is not None and may(principal.role, Permission.FORMS_PDF),
            "can_record_supplement": deferral is not None and may_defer and deferral.supplied_at is None,
            "can_record_reclaim": (deferral is not None and may_defer and deferral.supplied_at is not None
                                   and deferral.reclaimed_at is None),
        },
    }
