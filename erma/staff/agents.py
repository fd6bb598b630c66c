"""A town's agents (代办员) as staff pages list them: name, credential number and how many open cases
each holds, so the duty lead can choose whom to reassign (改派) a case to.

The list is the rule reassignment itself applies (erma.cases.assignment.agents_of_town: active
agents of the town), so every agent offered is one the platform accepts. A deactivated agent takes
no new cases and is not listed; there is no other "no new cases" flag. No phone numbers."""
from __future__ import annotations

from sqlalchemy.orm import Session

from erma.cases.assignment import agents_of_town, open_case_counts
from erma.errors import Forbidden, NotFound
from erma.permissions import Permission, may
from erma.places.models import Town
from erma.staff.auth import Principal


def town_agents(session: Session, principal: Principal, town_code: str) -> dict:
    """The town's active agents, the least loaded first (ties by id, as intake assigns). Duty leads and
    admins reassign; an agent may see the colleagues of their own town (Principal.can_see_town)."""
    if not may(principal.role, Permission.TOWN_AGENTS):
        raise Forbidden("role_forbidden", "只有代办员、轮值组长和县级管理员可以查看镇里的代办员")
    town = session.get(Town, (town_code or "").strip())
    if town is None:
        raise NotFound("town_not_found", f"没有编码为“{town_code}”的镇")
    if not principal.can_see_town(town.code):
        raise Forbidden("town_forbidden", "您只能查看本镇的代办员")
    agents = agents_of_town(session, town.code)
    loads = open_case_counts(session, [a.id for a in agents])
    agents.sort(key=lambda a: (loads.get(a.id, 0), a.id))
    return {"town": {"code": town.code, "name": town.name},
            "items": [{"id": a.id, "display_name": a.display_name, "credential_no": a.credential_no,
                       "open_cases": loads.get(a.id, 0)} for a in agents]}
