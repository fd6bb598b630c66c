"""Outbox handlers for 容缺 deadlines (put on the outbox by erma/outbox/deferrals.py): the reminder
before, the escalation after. Each publishes what happened; the pushes tell the resident and staff."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from erma.cases.models import Case, CaseEvent
from erma.clock import today_local
from erma.deferral.events import DeferralOverdue, DeferralReminderDue
from erma.deferral.models import Deferral
from erma.deferral.overdue import is_deferral_overdue
from erma.events import publish
from erma.followup.models import FollowUpTask
from erma.staff.auth import SYSTEM
from erma.staff.rota import duty_lead_on


def handle_reminder(session: Session, payload: dict, now: dt.datetime) -> None:
    deferral = session.get(Deferral, payload["deferral_id"])
    if deferral is None or deferral.status != "open":
        return  # supplied or closed in the meantime: nothing to remind
    case = session.get(Case, deferral.case_id)
    deferral.reminded_at = now
    publish(session, DeferralReminderDue(case=case, deferral=deferral, now=now))  # the resident and the agent are told
    session.add(CaseEvent(case_id=case.id, kind="deferral", actor=SYSTEM.actor, actor_role=SYSTEM.role,
                          note=f"已发送容缺补正提醒（期限 {deferral.deadline.isoformat()}）", at=now))


def handle_overdue(session: Session, payload: dict, now: dt.datetime) -> None:
    deferral = session.get(Deferral, payload["deferral_id"])
    # Escalated once (status overdue), and only while the one overdue rule holds (erma.deferral.overdue).
    if deferral is None or deferral.status != "open" or not is_deferral_overdue(session, deferral.id, today_local(now)):
        return
    case = session.get(Case, deferral.case_id)
    lead = duty_lead_on(session, today_local(now))
    deferral.status = "overdue"
    deferral.escalated_at = now
    session.add(FollowUpTask(kind="deferral_overdue", case_id=case.id, assignee_id=lead.id if lead else None,
                             due_date=today_local(now),
                             reason=f"容缺后补逾期：{'、'.join(deferral.missing_materials)}，期限 {deferral.deadline.isoformat()}"))
    publish(session, DeferralOverdue(case=case, deferral=deferral, lead=lead, now=now))  # the duty lead is told
    session.add(CaseEvent(case_id=case.id, kind="deferral", actor=SYSTEM.actor, actor_role=SYSTEM.role,
                          note=f"容缺后补逾期，已报轮值组长{lead.display_name if lead else ''}督办", at=now))
