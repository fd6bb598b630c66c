"""Reading cases for staff: the filtered case list, a case's history in words a page can show, and the
stage changes a staff member may make with POST …/transitions. The routes in erma/cases/views.py
only call these."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.bounds import page_of
from erma.cases.lifecycle import NOTE_REQUIRED, may_move, parse_stage
from erma.cases.models import Case, CaseEvent
from erma.cases.presenter import case_view, preload_for_views
from erma.cases.stages import FLOW_ONLY, OPEN_STAGES, STAGE_TEXT, TRANSITIONS, Stage
from erma.cases.workbench import ASSIGNED_FILTERS
from erma.errors import Forbidden, ValidationFailed
from erma.staff.auth import Principal
from erma.staff.models import Staff

LIST_ORDERS = {"newest": (Case.created_at.desc(), Case.id.desc()), "oldest": (Case.created_at, Case.id),
               "due": (Case.expected_completion_date, Case.created_at, Case.id)}
ACTOR_NAMES = {"system": "系统", "service": "智能助手", "resident": "居民"}


def list_cases(session: Session, principal: Principal, *, town: str | None = None, stage: str | None = None,
               limit: int = 50, assigned: str | None = None, open_only: bool | None = None,
               order: str = "newest", masked: bool = False, offset: int = 0) -> tuple[list[dict], int | None]:
    """One page of the cases this staff member may see, filtered (`assigned`: me | none; `open_only`;
    `order`: newest | oldest | due, each ending in the id so pages are stable), as case views, and the
    next page's offset (None: the last page)."""
    if order not in LIST_ORDERS:
        raise ValidationFailed("order_unknown", "排序只能是 newest、oldest 或 due", field="order")
    stmt = select(Case).order_by(*LIST_ORDERS[order]).offset(offset).limit(limit + 1)
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
    cases, next_offset = page_of(list(session.scalars(stmt)), limit, offset)
    loaded = preload_for_views(session, cases)  # noqa: F841 — kept alive while the views are built
    return [case_view(session, c, principal, masked=masked) for c in cases], next_offset


def case_history(session: Session, case: Case) -> list[dict]:
    """The case's events, oldest first, with stage names and who acted in words a page can show."""
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    usernames = {e.actor.removeprefix("staff:") for e in events if (e.actor or "").startswith("staff:")}
    names = dict(session.execute(select(Staff.username, Staff.display_name)
                                 .where(Staff.username.in_(usernames))).all()) if usernames else {}
    return [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "actor_role": e.actor_role,
             "actor_name": _actor_name(e.actor, names),
             "from": e.from_stage, "to": e.to_stage, "note": e.note,
             "from_text": _stage_text(e.from_stage), "to_text": _stage_text(e.to_stage)} for e in events]


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


def staff_actions(case: Case, principal: Principal) -> list[dict]:
    """The stage changes this staff member may make with POST …/transitions (not those needing their own flow)."""
    if not principal.can_see_town(case.hukou_town_code):
        return []
    return [{"to": target.value, "text": STAGE_TEXT[target]}
            for target in TRANSITIONS.get(Stage(case.stage), {})
            if target not in FLOW_ONLY and may_move(case, principal, target)]


def transition_choices(case: Case, principal: Principal) -> list[dict]:
    """`staff_actions` with whether each needs a note (the workbench's buttons)."""
    return [{**a, "note_required": Stage(a["to"]) in NOTE_REQUIRED} for a in staff_actions(case, principal)]
