"""Trips (跑动): every in-person act the counter and the workbench record — handing papers in,
supplementing them, collecting a result — is one visit with its place. Online and agent-carried steps
make none. `Case.visits` is the count of these rows, kept with them; 最多跑一次 is measured from them
(erma/dashboard), and a case with none is 未记录, not a success."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.models import Case, CaseEvent, CaseVisit
from erma.db import utcnow
from erma.errors import Forbidden, ValidationFailed
from erma.permissions import Permission, may
from erma.places.models import IntakePoint
from erma.staff.auth import Principal

PURPOSES = {"hand_in": "递交材料", "supplement": "补交材料", "collect_result": "领取结果"}


def may_record_visit(case: Case, principal: Principal) -> bool:
    """Whether the workbench and a conversation's case list offer to record a trip: the permission, for
    a case of a town the caller works for."""
    return may(principal.role, Permission.RECORD_VISIT) and principal.can_see_town(case.hukou_town_code)


def record_visit(session: Session, case: Case, principal: Principal, purpose: str,
                 point_code: str | None = None, note: str | None = None,
                 now: dt.datetime | None = None, *, at_intake: bool = False) -> CaseVisit:
    """One trip of the resident to `point_code` (default: the recording staff member's own intake point).
    `at_intake`: the hand-in of a case opened at a counter, counted by whoever opened it. Does not commit."""
    if not may(principal.role, Permission.RECORD_VISIT) and not at_intake:
        raise Forbidden("role_forbidden", "只有代办员和窗口接件人员可以登记群众跑动")
    if purpose not in PURPOSES:
        raise ValidationFailed("visit_purpose_unknown", "跑动事由只能是 递交材料、补交材料 或 领取结果",
                               field="purpose")
    point_code = point_code or (principal.staff.intake_point_code if principal.staff else None)
    point = session.get(IntakePoint, point_code) if point_code else None
    if point_code and (point is None or point.kind == "online"):
        raise ValidationFailed("intake_point_unknown", "请选择群众到达的线下接件点", field="intake_point")
    now = now or utcnow()
    visit = CaseVisit(case_id=case.id, purpose=purpose, intake_point_code=point_code,
                      staff_id=principal.staff.id if principal.staff else None, actor=principal.actor,
                      note=(note or "").strip() or None, at=now)
    session.add(visit)
    case.visits = (case.visits or 0) + 1
    place = point.name if point else "地点未登记"
    session.add(CaseEvent(case_id=case.id, kind="visit", actor=principal.actor, actor_role=principal.role,
                          note=f"群众第{case.visits}次到现场：{PURPOSES[purpose]}（{place}）"
                               + (f"，{visit.note}" if visit.note else ""), at=now))
    return visit


def case_visits(session: Session, case: Case) -> list[dict]:
    rows = session.execute(select(CaseVisit, IntakePoint.name)
                           .outerjoin(IntakePoint, IntakePoint.code == CaseVisit.intake_point_code)
                           .where(CaseVisit.case_id == case.id).order_by(CaseVisit.at, CaseVisit.id)).all()
    return [{"at": v.at.isoformat(), "purpose": v.purpose, "purpose_text": PURPOSES.get(v.purpose, v.purpose),
             "intake_point": v.intake_point_code, "place": name or "地点未登记", "note": v.note}
            for v, name in rows]
