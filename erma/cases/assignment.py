"""Who carries a case: the least-loaded agent of its household town at intake (design.md rule 5),
an agent of that town taking an unassigned case, the duty lead or an admin reassigning it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from erma.cases.models import Case, CaseEvent
from erma.cases.stages import ENDED_STAGES, OPEN_STAGES, STAGE_TEXT, Stage
from erma.db import utcnow
from erma.errors import Conflict, Forbidden, ValidationFailed
from erma.permissions import Permission, Role, may
from erma.staff.auth import Principal
from erma.staff.models import Staff


def agents_of_town(session: Session, town_code: str) -> list[Staff]:
    agents = session.scalars(select(Staff).where(Staff.role == Role.AGENT, Staff.active.is_(True))
                             .order_by(Staff.id)).all()
    return [a for a in agents if town_code in (a.town_codes or [])]


def open_case_counts(session: Session, agent_ids: list[int]) -> dict[int, int]:
    """Open cases held by each agent (their load), in one grouped query; agents holding none are absent.
    Read from the (agent_id, stage) index alone: only the open stages' entries, never the agents' ended
    cases nor the table rows (count(*), not count(id)), so the cost stays flat however many cases ended."""
    if not agent_ids:
        return {}
    return dict(session.execute(
        select(Case.agent_id, func.count())
        .where(Case.agent_id.in_(agent_ids), Case.stage.in_([s.value for s in OPEN_STAGES]))
        .group_by(Case.agent_id)).all())


def least_loaded_agent(session: Session, town_code: str) -> Staff | None:
    agents = agents_of_town(session, town_code)
    if not agents:
        return None
    loads = open_case_counts(session, [a.id for a in agents])
    # Ties go to the agent with the lower id, so assignment is predictable.
    return min(agents, key=lambda a: (loads.get(a.id, 0), a.id))


# ---------------------------------------------------------------- taking and reassigning (agent workbench)


def _agent_words(agent: Staff) -> str:
    return f"{agent.display_name}（{agent.credential_no}）" if agent.credential_no else agent.display_name


def take_case(session: Session, case: Case, principal: Principal, now: dt.datetime | None = None) -> bool:
    """An agent of the case's household town takes (认领) an unassigned case. Returns False when it
    was already theirs (a second tap changes nothing). Two agents racing: the conditional UPDATE
    `… WHERE agent_id IS NULL` lets exactly one win; the other is told who has it (409).
    Does not commit."""
    if not may(principal.role, Permission.TAKE_CASE) or principal.staff is None:
        raise Forbidden("take_forbidden", "只有代办员可以认领办件")
    if case.hukou_town_code not in principal.towns:
        raise Forbidden("take_other_town", "只能认领本镇的办件")
    if case.agent_id == principal.staff.id:
        return False
    if Stage(case.stage) in ENDED_STAGES:
        raise Conflict("case_ended", f"办件已“{STAGE_TEXT[Stage(case.stage)]}”，不用再认领")
    if case.agent_id is not None:
        raise _already_taken(session, case.agent_id)
    now = now or utcnow()
    won = session.execute(update(Case).where(Case.id == case.id, Case.agent_id.is_(None))
                          .values(agent_id=principal.staff.id, updated_at=now)
                          .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        holder = session.scalar(select(Case.agent_id).where(Case.id == case.id))
        raise _already_taken(session, holder)
    set_committed_value(case, "agent_id", principal.staff.id)  # what the UPDATE wrote; nothing left to flush
    session.add(CaseEvent(case_id=case.id, kind="assigned", actor=principal.actor, actor_role=principal.role,
                          note=f"代办员 {_agent_words(principal.staff)} 认领", at=now))
    return True


def _already_taken(session: Session, agent_id: int | None) -> Conflict:
    agent = session.get(Staff, agent_id) if agent_id else None
    who = f"代办员{_agent_words(agent)}" if agent else "其他代办员"
    return Conflict("case_already_assigned", f"这个办件已由{who}承办，不能再认领")


def reassign_case(session: Session, case: Case, principal: Principal, agent_id: int | None,
                  note: str | None = None, now: dt.datetime | None = None) -> bool:
    """The duty lead or an admin gives a case to another agent of its household town, or with
    `agent_id=None` puts it back among the town's unassigned cases for an agent to take.
    Returns False when nothing changes. Does not commit."""
    if not may(principal.role, Permission.REASSIGN):
        raise Forbidden("reassign_forbidden", "只有轮值组长和县级管理员可以改派办件")
    if Stage(case.stage) in ENDED_STAGES:
        raise Conflict("case_ended", f"办件已“{STAGE_TEXT[Stage(case.stage)]}”，不能改派")
    agent = None
    if agent_id is not None:
        agent = session.get(Staff, agent_id)
        if agent is None or agent.role != Role.AGENT or not agent.active:
            raise ValidationFailed("agent_unknown", "没有这位代办员，或其账号已停用", field="agent_id")
        if case.hukou_town_code not in (agent.town_codes or []):
            raise ValidationFailed("agent_other_town", f"{agent.display_name}不是办件户籍地镇的代办员",
                                   field="agent_id")
    if case.agent_id == agent_id:
        return False
    now = now or utcnow()
    case.agent_id = agent_id
    case.updated_at = now
    words = f"改派代办员 {_agent_words(agent)}" if agent else "退回本镇待认领"
    session.add(CaseEvent(case_id=case.id, kind="assigned", actor=principal.actor, actor_role=principal.role,
                          note=words + (f"：{note.strip()}" if note and note.strip() else ""), at=now))
    return True


def change_assignment(session: Session, case: Case, principal: Principal, agent_id: int | None, *,
                      agent_given: bool, note: str | None = None) -> bool:
    """POST …/assignment: the duty lead or an admin reassigns (must name an agent, or null to release);
    anyone else may only take the case for themselves. Returns whether anything changed."""
    if may(principal.role, Permission.REASSIGN):
        if not agent_given:
            raise ValidationFailed("agent_required", "请选择改派给哪位代办员，或退回本镇待认领", field="agent_id")
        return reassign_case(session, case, principal, agent_id, note)
    if agent_given and (principal.staff is None or agent_id != principal.staff.id):
        raise Forbidden("take_for_others", "代办员只能为自己认领办件，改派请找轮值组长")
    return take_case(session, case, principal)
