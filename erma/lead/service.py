"""The duty lead's three lists, each row with what the lead needs to act on it: the case, its town
and item, the applicant masked, the agent carrying it, and how late it is. Which rows belong on a
list is decided in erma.deferral.overdue (overdue 容缺 and cases) and erma.lead.overdue (follow-ups)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from erma import pii
from erma.cases.models import Case
from erma.cases.stages import STAGE_TEXT, Stage
from erma.catalog.models import ServiceItem
from erma.clock import today_local
from erma.db import as_utc
from erma.deferral.overdue import overdue_cases_query, overdue_deferrals_query
from erma.bounds import MAX_DB_INT
from erma.errors import Forbidden, ValidationFailed
from erma.followup.models import FollowUpTask, Rating
from erma.followup.service import LEVELS
from erma.lead.overdue import days_between, open_followups_query
from erma.permissions import Permission, may
from erma.places.models import Town
from erma.staff.auth import Principal
from erma.staff.models import Staff

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
FOLLOWUP_KINDS = {"bad_rating": "差评回访", "deferral_overdue": "容缺逾期督办"}


def require_lead(principal: Principal) -> None:
    if not may(principal.role, Permission.LEAD_LISTS):
        raise Forbidden("role_forbidden", "只有轮值组长和县级管理员可以查看督办清单")


def _check_town(session: Session, town: str | None) -> str | None:
    town = (town or "").strip() or None
    if town is not None and session.get(Town, town) is None:
        raise ValidationFailed("town_unknown", f"没有编码为“{town}”的镇", field="town")
    return town


class _Facts:
    """Names looked up once per list (towns, items, agents), not once per row."""

    def __init__(self, session: Session, cases: Iterable[Case], today: dt.date):
        cases = list(cases)
        self.today = today
        self.towns = {t.code: t.name for t in session.scalars(select(Town))}
        codes = {c.service_code for c in cases}
        self.items = dict(session.execute(select(ServiceItem.code, ServiceItem.name)
                                          .where(ServiceItem.code.in_(codes))).all()) if codes else {}
        agent_ids = {c.agent_id for c in cases if c.agent_id}
        self.agents = ({s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(agent_ids)))}
                       if agent_ids else {})

    def of(self, case: Case) -> dict:
        agent = self.agents.get(case.agent_id)
        opened = today_local(as_utc(case.created_at))
        return {
            "case_no": case.case_no,
            "town": {"code": case.hukou_town_code, "name": self.towns.get(case.hukou_town_code, "")},
            "service": {"code": case.service_code, "name": self.items.get(case.service_code, case.service_code)},
            # Lists show the applicant masked; the case itself shows what the role may see.
            "applicant": {"name": pii.mask_name(case.applicant_name), "phone": case.phone_masked},
            "agent": ({"name": agent.display_name, "credential_no": agent.credential_no, "phone": agent.phone_masked}
                      if agent else None),
            "stage": case.stage,
            "stage_text": STAGE_TEXT[Stage(case.stage)],
            "opened_on": opened.isoformat(),
            "age_days": days_between(opened, self.today),
            "expected_completion_date": case.expected_completion_date.isoformat(),
        }


def _count(session: Session, stmt: Select) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def _page(session: Session, stmt: Select, town: str | None, limit: int, offset: int = 0) -> tuple[int, list]:
    """One list's page: the town (if named) checked and applied, the total, then up to `limit` rows
    from `offset` on (the lists' orders end in an id, so pages are stable)."""
    town = _check_town(session, town)
    if town:
        stmt = stmt.where(Case.hukou_town_code == town)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("limit_invalid", f"每页条数应在 1 到 {MAX_LIMIT} 之间", field="limit")
    if not 0 <= offset <= MAX_DB_INT:
        raise ValidationFailed("offset_invalid", "起始位置不能为负数", field="offset")
    return _count(session, stmt), session.execute(stmt.offset(offset).limit(limit)).all()


def _next(total: int, offset: int, rows: list) -> int | None:
    return offset + len(rows) if offset + len(rows) < total else None


def overdue_deferrals(session: Session, principal: Principal, *, town: str | None = None,
                      limit: int = DEFAULT_LIMIT, offset: int = 0, now: dt.datetime | None = None) -> dict:
    """容缺 deferrals past their supplement deadline with the materials still missing."""
    require_lead(principal)
    today = today_local(now)
    total, rows = _page(session, overdue_deferrals_query(today), town, limit, offset)
    facts = _Facts(session, (case for _, case in rows), today)
    case_ids = [case.id for _, case in rows]
    # The escalation (outbox) opens a 督办 task; the lead records its outcome from this list.
    tasks = ({t.case_id: t.id for t in session.scalars(
        select(FollowUpTask).where(FollowUpTask.kind == "deferral_overdue", FollowUpTask.status == "open",
                                   FollowUpTask.case_id.in_(case_ids)))} if case_ids else {})
    items = [{**facts.of(case), "form_no": deferral.form_no, "missing_materials": deferral.missing_materials,
              "deadline": deferral.deadline.isoformat(), "overdue_days": days_between(deferral.deadline, today),
              "escalated": deferral.escalated_at is not None, "followup_task_id": tasks.get(case.id)}
             for deferral, case in rows]
    return {"today": today.isoformat(), "total": total, "items": items, "next_offset": _next(total, offset, rows)}


def overdue_cases(session: Session, principal: Principal, *, town: str | None = None,
                  limit: int = DEFAULT_LIMIT, offset: int = 0, now: dt.datetime | None = None) -> dict:
    """Cases not finished whose promised completion date has passed."""
    require_lead(principal)
    today = today_local(now)
    total, rows = _page(session, overdue_cases_query(today), town, limit, offset)
    facts = _Facts(session, (case for (case,) in rows), today)
    items = [{**facts.of(case), "overdue_days": days_between(case.expected_completion_date, today)}
             for (case,) in rows]
    return {"today": today.isoformat(), "total": total, "items": items, "next_offset": _next(total, offset, rows)}


def followups_due(session: Session, principal: Principal, *, kind: str = "bad_rating", town: str | None = None,
                  limit: int = DEFAULT_LIMIT, offset: int = 0, now: dt.datetime | None = None) -> dict:
    """Open follow-up tasks (差评回访 by default), the earliest due first, with days left or overdue."""
    require_lead(principal)
    if kind not in FOLLOWUP_KINDS:
        raise ValidationFailed("followup_kind_unknown", "回访任务类型只能是 差评回访（bad_rating）或 容缺逾期督办（deferral_overdue）",
                               field="kind")
    today = today_local(now)
    total, rows = _page(session, open_followups_query(kind), town, limit, offset)
    facts = _Facts(session, (case for _, case in rows), today)
    case_ids = [case.id for _, case in rows]
    ratings = ({r.case_id: r for r in session.scalars(select(Rating).where(Rating.case_id.in_(case_ids)))}
               if case_ids else {})
    items = []
    for task, case in rows:
        rating = ratings.get(case.id)
        left = days_between(today, task.due_date)
        items.append({**facts.of(case), "task_id": task.id, "kind": task.kind, "kind_text": FOLLOWUP_KINDS[task.kind],
                      "reason": task.reason, "due_date": task.due_date.isoformat(), "days_left": left,
                      "overdue_days": max(0, -left),
                      "task_opened_on": today_local(as_utc(task.created_at)).isoformat(),
                      "rating": ({"level": rating.level, "level_text": LEVELS[rating.level], "comment": rating.comment}
                                 if rating else None)})
    return {"today": today.isoformat(), "total": total, "items": items, "next_offset": _next(total, offset, rows)}
