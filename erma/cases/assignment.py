"""Assigning a case to the least-loaded agent of its household town (design.md rule 5)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.stages import OPEN_STAGES
from erma.staff.models import Staff


def agents_of_town(session: Session, town_code: str) -> list[Staff]:
    agents = session.scalars(select(Staff).where(Staff.role == "agent", Staff.active.is_(True))
                             .order_by(Staff.id)).all()
    return [a for a in agents if town_code in (a.town_codes or [])]


def least_loaded_agent(session: Session, town_code: str) -> Staff | None:
    agents = agents_of_town(session, town_code)
    if not agents:
        return None
    loads = dict(session.execute(
        select(Case.agent_id, func.count(Case.id))
        .where(Case.agent_id.in_([a.id for a in agents]), Case.stage.in_([s.value for s in OPEN_STAGES]))
        .group_by(Case.agent_id)).all())
    # Ties go to the agent with the lower id, so assignment is predictable.
    return min(agents, key=lambda a: (loads.get(a.id, 0), a.id))
