"""What a case looks like to each caller: personal data masked unless the role needs it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma import pii
from erma.cases.models import Case
from erma.cases.stages import NEXT_STEP, STAGE_TEXT, Stage
from erma.cases.timing import promise_is_provisional
from erma.catalog.models import ServiceItem
from erma.catalog.service import get_item
from erma.permissions import Permission, may
from erma.places.models import IntakePoint, Town
from erma.staff.auth import Principal
from erma.staff.models import Staff


def agent_view(agent: Staff | None) -> dict | None:
    if agent is None:
        return None
    return {"name": agent.display_name, "credential_no": agent.credential_no, "phone": agent.phone_masked}


def agent_contact(agent: Staff | None) -> dict | None:
    """Agents' work phones are published (亮证上岗), so residents get them in full."""
    view = agent_view(agent)
    if view and agent.phone_enc:
        view["phone"] = pii.decrypt(agent.phone_enc)
    return view


def stage_words(session: Session, case: Case) -> tuple[str, str]:
    stage = Stage(case.stage)
    town = session.get(Town, case.hukou_town_code)
    item = get_item(session, case.service_code)
    department = item.department if item else "主管部门"
    return STAGE_TEXT[stage], NEXT_STEP[stage].format(town=town.name, department=department)


def preload_for_views(session: Session, cases: list[Case]) -> list:
    """The items, towns, intake points and agents a list of cases refers to, one query each. The
    session's identity map holds rows only while something refers to them, so the caller keeps the
    returned list while it builds the views: case_view's session.get then needs no query per case."""
    wanted = ((ServiceItem, ServiceItem.code, {c.service_code for c in cases}),
              (Town, Town.code, {c.hukou_town_code for c in cases}),
              (IntakePoint, IntakePoint.code, {c.intake_point_code for c in cases}),
              (Staff, Staff.id, {c.agent_id for c in cases if c.agent_id}))
    return [row for model, key, values in wanted if values
            for row in session.scalars(select(model).where(key.in_(values)))]


def case_view(session: Session, case: Case, principal: Principal, *, masked: bool = False) -> dict:
    """`masked=True`: ID number and phone masked even for a role that may see them (a page that
    does not need them in full asks for less)."""
    item = get_item(session, case.service_code)
    town = session.get(Town, case.hukou_town_code)
    point = session.get(IntakePoint, case.intake_point_code)
    agent = session.get(Staff, case.agent_id) if case.agent_id else None
    stage_text, next_step = stage_words(session, case)
    is_staff = principal.staff is not None
    return {
        "case_no": case.case_no,
        "service_code": case.service_code,
        "service_name": item.name if item else case.service_code,
        "stage": case.stage,
        "stage_text": stage_text,
        "next_step": next_step,
        "applicant_name": case.applicant_name if is_staff else pii.mask_name(case.applicant_name),
        "id_number": (pii.decrypt(case.id_number_enc) if may(principal.role, Permission.SEE_FULL_ID) and not masked
                      else case.id_number_masked),
        "phone": (pii.decrypt(case.phone_enc) if may(principal.role, Permission.SEE_FULL_PHONE) and not masked
                  else case.phone_masked),
        "hukou_town": {"code": town.code, "name": town.name},
        "hukou_village": case.hukou_village,
        "current_location": case.current_location,
        "intake_point": {"code": point.code, "name": point.name, "kind": point.kind},
        "channel": case.channel,
        "agent": agent_contact(agent),
        "materials_have": case.materials_have,
        "materials_missing": case.materials_missing,
        "visits": case.visits,
        "expected_completion_date": case.expected_completion_date.isoformat(),
        "expected_completion_provisional": promise_is_provisional(case, item),
        "result": case.result,
        "created_at": case.created_at.isoformat(),
        "stage_changed_at": case.stage_changed_at.isoformat(),
    }
