"""Opening a 容缺 deferral (numbered form + pledge, deadline, scheduled reminder and escalation),
and closing it when the documents arrive (with the 督办 task of an escalated one) and the form and
pledge are reclaimed."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.lifecycle import transition
from erma.cases.materials import record_receipts
from erma.cases.models import Case, CaseEvent
from erma.cases.numbers import next_in_sequence
from erma.cases.stages import Stage
from erma.catalog.service import get_item
from erma.clock import local_midnight_utc, today_local
from erma.db import utcnow
from erma.deferral.events import DeferralOpened
from erma.deferral.models import Deferral, DeferralFormCounter
from erma.deferral.rules import check_deferral_allowed, reminder_date, supplement_deadline
from erma.errors import Conflict, Forbidden, NotFound
from erma.events import publish
from erma.permissions import Permission, may
from erma.followup.service import close_deferral_followup
from erma.review.models import ReviewOpinion
from erma.places.models import Town
from erma.settings import get_settings
from erma.staff.auth import Principal
from erma.working_days import is_provisional


def open_deferral(session: Session, case: Case, principal: Principal, missing: list[str],
                  note: str | None = None, now: dt.datetime | None = None) -> Deferral:
    if not may(principal.role, Permission.DEFER):
        raise Forbidden("role_forbidden", "只有代办员可以办理容缺受理")
    item = get_item(session, case.service_code)
    missing = [m.strip() for m in missing if m and m.strip()] or reviewer_deferred(session, case)
    check_deferral_allowed(item, case.stage, missing)
    now = now or utcnow()
    today = today_local(now)
    deadline = supplement_deadline(item, today, case.expected_completion_date)
    seq = next_in_sequence(session, DeferralFormCounter, DeferralFormCounter.year, today.year)
    town = session.get(Town, case.hukou_town_code)
    deferral = Deferral(case_id=case.id, form_no=f"RQ-{today.year}-{seq:04d}", pledge_no=f"BS-{today.year}-{seq:04d}",
                        endorser_town_code=town.code, missing_materials=missing, deadline=deadline,
                        created_by=principal.staff.id if principal.staff else None, created_at=now, note=note)
    session.add(deferral)
    event = transition(session, case, Stage.DEFERRAL_ACCEPTED, principal,
                       f"容缺受理：一表一书 {deferral.form_no}，暂缺 {'、'.join(missing)}，{deadline.isoformat()} 前补齐",
                       flow=True, now=now, announce=False)  # DeferralOpened tells the resident
    session.flush()
    days_before = get_settings().deferral_reminder_working_days
    publish(session, DeferralOpened(case=case, deferral=deferral, event=event, now=now,
                                    remind_at=local_midnight_utc(reminder_date(deadline, today, days_before)),
                                    # Overdue the first moment after the deadline day ends.
                                    overdue_at=local_midnight_utc(deadline + dt.timedelta(days=1))))
    session.flush()
    return deferral


def reviewer_deferred(session: Session, case: Case) -> list[str]:
    """The materials the town reviewer agreed may follow later (同意容缺), when that was the last decision."""
    last = session.scalar(select(ReviewOpinion).where(ReviewOpinion.case_id == case.id)
                          .order_by(ReviewOpinion.id.desc()).limit(1))
    return list(last.deferred_materials or []) if last and last.decision == "approve_deferral" else []


def get_deferral(session: Session, case: Case) -> Deferral:
    deferral = session.scalar(select(Deferral).where(Deferral.case_id == case.id))
    if deferral is None:
        raise NotFound("deferral_not_found", "这个办件没有容缺记录")
    return deferral


def record_supplement(session: Session, case: Case, principal: Principal, note: str | None = None,
                      now: dt.datetime | None = None) -> Deferral:
    _require_agent(principal)
    deferral = get_deferral(session, case)
    if deferral.supplied_at is not None:
        raise Conflict("deferral_already_supplied", "后补材料已经登记过了")
    now = now or utcnow()
    deferral.supplied_at = now
    deferral.status = "supplied"
    session.add(CaseEvent(case_id=case.id, kind="deferral", actor=principal.actor, actor_role=principal.role,
                          note=note or f"容缺后补材料已收到：{'、'.join(deferral.missing_materials)}", at=now))
    # The supplement is the materials themselves (a copy, unless an original is recorded separately).
    record_receipts(session, case, principal, [(m, "copy") for m in deferral.missing_materials], "supplement",
                    principal.staff.intake_point_code if principal.staff else None, now)
    close_deferral_followup(session, case, now)  # an escalated deferral's 督办 ends with the materials
    session.flush()
    return deferral


def record_reclaim(session: Session, case: Case, principal: Principal, note: str | None = None,
                   now: dt.datetime | None = None) -> Deferral:
    _require_agent(principal)
    deferral = get_deferral(session, case)
    if deferral.supplied_at is None:
        raise Conflict("deferral_not_supplied", "后补材料还没有收到，不能收回容缺快办审核表和诚信背书单")
    if deferral.reclaimed_at is not None:
        raise Conflict("deferral_already_closed", "一表一书已经收回")
    now = now or utcnow()
    deferral.reclaimed_at = now
    deferral.status = "closed"
    session.add(CaseEvent(case_id=case.id, kind="deferral", actor=principal.actor, actor_role=principal.role,
                          note=note or f"已收回一表一书 {deferral.form_no} / {deferral.pledge_no}，容缺办结", at=now))
    session.flush()
    return deferral


def _require_agent(principal: Principal) -> None:
    if not may(principal.role, Permission.DEFER):
        raise Forbidden("role_forbidden", "只有代办员可以登记容缺补正和收回")


def deferral_view(deferral: Deferral) -> dict:
    return {"form_no": deferral.form_no, "pledge_no": deferral.pledge_no, "status": deferral.status,
            "missing_materials": deferral.missing_materials, "deadline": deferral.deadline.isoformat(),
            # Counted across a year with no official holiday arrangement yet: shown as （暂定）.
            "deadline_provisional": is_provisional(today_local(deferral.created_at), deferral.deadline),
            "endorser_town_code": deferral.endorser_town_code,
            "supplied_at": deferral.supplied_at and deferral.supplied_at.isoformat(),
            "reclaimed_at": deferral.reclaimed_at and deferral.reclaimed_at.isoformat(),
            "reminded_at": deferral.reminded_at and deferral.reminded_at.isoformat(),
            "escalated_at": deferral.escalated_at and deferral.escalated_at.isoformat()}
