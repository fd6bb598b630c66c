"""Outbox handlers for 容缺 deadlines: the reminder before, the escalation after."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from erma.cases.models import Case, CaseEvent
from erma.clock import today_local
from erma.deferral.models import Deferral
from erma.followup.models import FollowUpTask
from erma.notices.service import notify_resident, notify_staff
from erma.places.models import Town
from erma.pushes import templates
from erma.staff.rota import duty_lead_on


def handle_reminder(session: Session, payload: dict, now: dt.datetime) -> None:
    deferral = session.get(Deferral, payload["deferral_id"])
    if deferral is None or deferral.status != "open":
        return  # supplied or closed in the meantime: nothing to remind
    case = session.get(Case, deferral.case_id)
    town = session.get(Town, deferral.endorser_town_code)
    missing = "、".join(deferral.missing_materials)
    deferral.reminded_at = now
    notify_resident(session, case, "deferral_reminder",
                    templates.deferral_reminder(templates.case_words(session, case), deferral.missing_materials,
                                                deferral.deadline),
                    push_key=f"deferral_reminder:{deferral.id}", now=now)
    notify_staff(session, case.agent_id, case, "deferral_reminder",
                 f"{case.case_no} 容缺后补期限 {deferral.deadline.isoformat()}，{town.name}尚未补齐：{missing}")
    session.add(CaseEvent(case_id=case.id, kind="deferral", actor="system", actor_role="system",
                          note=f"已发送容缺补正提醒（期限 {deferral.deadline.isoformat()}）", at=now))


def handle_overdue(session: Session, payload: dict, now: dt.datetime) -> None:
    deferral = session.get(Deferral, payload["deferral_id"])
    if deferral is None or deferral.status != "open" or today_local(now) <= deferral.deadline:
        return
    case = session.get(Case, deferral.case_id)
    lead = duty_lead_on(session, today_local(now))
    deferral.status = "overdue"
    deferral.escalated_at = now
    session.add(FollowUpTask(kind="deferral_overdue", case_id=case.id, assignee_id=lead.id if lead else None,
                             due_date=today_local(now),
                             reason=f"容缺后补逾期：{'、'.join(deferral.missing_materials)}，期限 {deferral.deadline.isoformat()}"))
    notify_staff(session, lead.id if lead else None, case, "deferral_overdue",
                 f"{case.case_no} 容缺后补已逾期（期限 {deferral.deadline.isoformat()}），请督办")
    session.add(CaseEvent(case_id=case.id, kind="deferral", actor="system", actor_role="system",
                          note=f"容缺后补逾期，已报轮值组长{lead.display_name if lead else ''}督办", at=now))
