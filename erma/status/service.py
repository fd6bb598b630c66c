"""Where a case stands, in plain words, for residents: verified by the last four digits of the
ID number or phone. A wrong answer looks exactly like an unknown case, and repeated failures
are slowed down (counted in the database, so every platform replica sees them)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.presenter import agent_contact, stage_words
from erma.cases.stages import Stage
from erma.catalog.service import get_item
from erma.db import utcnow
from erma.errors import NotFound, TooManyRequests
from erma.places.models import Town
from erma.settings import get_settings
from erma.staff.models import Staff
from erma.status.models import StatusLookupFailure

TOWN_HOLDS = {Stage.RECEIVED, Stage.TOWN_REVIEW, Stage.RETURNED, Stage.REJECTED}


def status_view(session: Session, case: Case) -> dict:
    stage_text, next_step = stage_words(session, case)
    item = get_item(session, case.service_code)
    town = session.get(Town, case.hukou_town_code)
    agent = session.get(Staff, case.agent_id) if case.agent_id else None
    if Stage(case.stage) in TOWN_HOLDS or agent is None:
        holder = {"kind": "town", "name": f"{town.name}审核人员"}
    else:
        holder = {"kind": "agent", **agent_contact(agent)}
    return {"case_no": case.case_no, "service_code": case.service_code,
            "service_name": item.name if item else case.service_code,
            "hukou_town": town.name, "stage": case.stage, "stage_text": stage_text, "next_step": next_step,
            "holder": holder, "agent": agent_contact(agent),
            "expected_completion_date": case.expected_completion_date.isoformat(),
            "materials_missing": case.materials_missing}


def lookup_status(session: Session, case_no: str, last4: str, client: str, now: dt.datetime | None = None) -> dict:
    settings = get_settings()
    now = now or utcnow()
    case_no = (case_no or "").strip().upper()
    keys = [f"case:{case_no}"[:80], f"client:{client}"[:80]]
    since = now - dt.timedelta(seconds=settings.status_failure_window_seconds)
    per_key = session.execute(select(StatusLookupFailure.key, func.count(StatusLookupFailure.id))
                              .where(StatusLookupFailure.key.in_(keys), StatusLookupFailure.at >= since)
                              .group_by(StatusLookupFailure.key)).all()
    if max((n for _, n in per_key), default=0) >= settings.status_max_failures:
        raise TooManyRequests("status_too_many_failures", "查询失败次数太多，请过15分钟再试，或联系代办员",
                              retry_after=settings.status_failure_window_seconds)
    last4 = (last4 or "").strip().upper()
    case = session.scalar(select(Case).where(Case.case_no == case_no))
    if case is None or len(last4) != 4 or last4 not in (case.id_last4.upper(), case.phone_last4):
        for key in keys:
            session.add(StatusLookupFailure(key=key, at=now))
        session.execute(delete(StatusLookupFailure).where(StatusLookupFailure.at < since))
        session.commit()
        # Same answer for an unknown case and a wrong verification: no case numbers leak.
        raise NotFound("case_not_found", "没有查到这个办件，请核对办件编号和身份证或手机号后四位")
    return status_view(session, case)
