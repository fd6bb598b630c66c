"""The household town's online review: the queue, and approve / return / reject with an opinion."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.cases.lifecycle import transition
from erma.cases.models import Case, CaseEvent
from erma.cases.stages import Stage
from erma.catalog.models import ServiceItem
from erma.catalog.service import get_item
from erma.db import as_utc, utcnow
from erma.errors import Forbidden, ValidationFailed
from erma.pushes import templates
from erma.review.models import DeficiencyNotice, ReviewOpinion
from erma.staff.auth import Principal

DECISIONS = {"approve": Stage.APPROVED, "return": Stage.RETURNED, "reject": Stage.REJECTED}


def review_queue(session: Session, principal: Principal, town_code: str, now: dt.datetime | None = None) -> list[dict]:
    if not principal.can_see_town(town_code):
        raise Forbidden("town_forbidden", "您只能查看本镇的审核队列")
    now = now or utcnow()
    cases = session.scalars(select(Case).where(Case.hukou_town_code == town_code,
                                               Case.stage == Stage.TOWN_REVIEW)
                            .order_by(Case.stage_changed_at, Case.id)).all()
    # Item names in one query, not one per case: a long queue stays quick.
    codes = {case.service_code for case in cases}
    names = dict(session.execute(select(ServiceItem.code, ServiceItem.name)
                                 .where(ServiceItem.code.in_(codes))).all()) if codes else {}
    out = []
    for case in cases:
        waited = now - as_utc(case.stage_changed_at)
        out.append({"case_no": case.case_no, "service_code": case.service_code,
                    "service_name": names.get(case.service_code, case.service_code),
                    "applicant_name": case.applicant_name, "id_number": case.id_number_masked,
                    "hukou_village": case.hukou_village, "intake_point": case.intake_point_code,
                    "materials_missing": case.materials_missing,
                    "waiting_since": as_utc(case.stage_changed_at).isoformat(),
                    "age_hours": round(waited.total_seconds() / 3600, 1),
                    "expected_completion_date": case.expected_completion_date.isoformat()})
    return out


def decide(session: Session, case: Case, principal: Principal, decision: str, opinion: str | None,
           deficiencies: list[str] | None = None, now: dt.datetime | None = None) -> dict:
    if principal.role not in ("town_reviewer", "admin"):
        raise Forbidden("role_forbidden", "只有户籍地镇的审核人员可以审核")
    target = DECISIONS.get(decision)
    if target is None:
        raise ValidationFailed("decision_unknown", "审核结论只能是 通过、退回补正 或 不予受理", field="decision")
    opinion = (opinion or "").strip()
    deficiencies = [d.strip() for d in (deficiencies or []) if d and d.strip()]
    if target == Stage.RETURNED and not deficiencies:
        raise ValidationFailed("deficiencies_required", "退回补正时必须一次性列出需要补齐的全部材料",
                               field="deficiencies")
    if target in (Stage.RETURNED, Stage.REJECTED) and not opinion:
        raise ValidationFailed("opinion_required", "请写明审核意见（退回或不予受理的理由）", field="opinion")
    opinion = opinion or "同意，材料齐全，请代办员送办。"
    repeated = _same_decision_already_made(session, case, principal, decision, target, opinion, deficiencies)
    if repeated is not None:
        return repeated

    words = templates.case_words(session, case)
    told = {Stage.RETURNED: ("deficiency_notice", templates.deficiency_list(words, deficiencies, opinion)),
            Stage.REJECTED: ("rejected", templates.rejected(words, opinion)),
            Stage.APPROVED: ("approved", templates.approved(words))}[target]
    transition(session, case, target, principal, opinion, flow=True, now=now, notice=told)  # one push per decision
    session.add(ReviewOpinion(case_id=case.id, reviewer_id=principal.staff.id if principal.staff else None,
                              decision=decision, opinion=opinion, at=now or utcnow()))
    notice = None
    if target == Stage.RETURNED:
        notice = _deficiency_notice(session, case, principal, deficiencies, opinion, now)
    session.commit()
    return _answer(case, opinion, notice, repeated=False)


def _same_decision_already_made(session: Session, case: Case, principal: Principal, decision: str, target: Stage,
                                opinion: str, deficiencies: list[str]) -> dict | None:
    """The answer already given, when this is a retry of the decision the case last received.

    A reviewer on a mountain phone connection often sends again when the answer was lost; the case
    already sits in the decided stage, and a second transition would be refused (409) although
    nothing is wrong. Same reviewer, same decision, same opinion and list: nothing more is done or
    pushed, and the answer says it had been saved (`repeated`)."""
    if case.stage != target.value:
        return None
    last = session.scalar(select(ReviewOpinion).where(ReviewOpinion.case_id == case.id)
                          .order_by(ReviewOpinion.id.desc()).limit(1))
    reviewer_id = principal.staff.id if principal.staff else None
    if last is None or (last.reviewer_id, last.decision, last.opinion) != (reviewer_id, decision, opinion):
        return None
    notice = None
    if target == Stage.RETURNED:
        notice = session.scalar(select(DeficiencyNotice).where(DeficiencyNotice.case_id == case.id)
                                .order_by(DeficiencyNotice.seq.desc()).limit(1))
        if notice is None or list(notice.materials) != deficiencies:
            return None
    return _answer(case, opinion, notice, repeated=True)


def _answer(case: Case, opinion: str, notice: DeficiencyNotice | None, *, repeated: bool) -> dict:
    """What a decision answers, the first time and on a retry alike."""
    return {"case_no": case.case_no, "stage": case.stage, "opinion": opinion, "repeated": repeated,
            "deficiency_notice": None if notice is None else
            {"seq": notice.seq, "is_repeat": notice.is_repeat, "materials": notice.materials}}


def _deficiency_notice(session: Session, case: Case, principal: Principal, materials: list[str],
                       note: str, now: dt.datetime | None) -> DeficiencyNotice:
    seq = (session.scalar(select(func.max(DeficiencyNotice.seq)).where(DeficiencyNotice.case_id == case.id)) or 0) + 1
    # A second notice breaks 一次性告知; it is recorded as such and counted by the metrics.
    notice = DeficiencyNotice(case_id=case.id, seq=seq, is_repeat=seq > 1, materials=materials, note=note,
                              issued_by=principal.staff.id if principal.staff else None, at=now or utcnow())
    session.add(notice)
    session.add(CaseEvent(case_id=case.id, kind="deficiency_notice", actor=principal.actor,
                          actor_role=principal.role,
                          note=("第二次补正通知（非一次性告知）：" if seq > 1 else "一次性补正通知：")
                          + "、".join(materials)))
    case.materials_missing = materials
    return notice


def resubmit(session: Session, case: Case, principal: Principal, materials_have: list[str],
             note: str | None = None, now: dt.datetime | None = None) -> None:
    """The resident (via the assistant or an agent) has supplied corrections: back to review."""
    item = get_item(session, case.service_code)
    known = {m.name for m in item.materials}
    unknown = [m for m in materials_have if m not in known]
    if unknown:
        raise ValidationFailed("material_unknown", f"“{'、'.join(unknown)}”不在“{item.name}”的材料清单里",
                               field="materials_have")
    have = [m.name for m in item.materials if m.name in set(materials_have) | set(case.materials_have)]
    transition(session, case, Stage.TOWN_REVIEW, principal, note or "已补齐材料，重新提交审核", now=now)
    case.materials_have = have
    case.materials_missing = [m.name for m in item.materials if m.required and m.name not in have]
    session.commit()
