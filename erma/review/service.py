"""The household town's online review: the queue, and approve / return / reject with an opinion."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.bounds import PAGE_DEFAULT, page_of
from erma.cases.lifecycle import holds_case, transition
from erma.cases.materials import FORMS, ONLINE_POINT, Gap, case_gap, known_materials, record_receipts, refresh_cache
from erma.cases.models import Case, CaseEvent
from erma.cases.visits import record_visit
from erma.cases.stages import Stage, allowed_roles, role_may
from erma.catalog.models import ServiceItem
from erma.catalog.service import get_item
from erma.db import as_utc, utcnow
from erma.errors import Conflict, Forbidden, ValidationFailed
from erma.permissions import Permission, may
from erma.events import publish
from erma.review.events import CaseApproved, CaseRejected, DeficiencyNotified
from erma.review.models import DeficiencyNotice, ReviewOpinion
from erma.staff.auth import Principal

DECISIONS = {"approve": Stage.APPROVED, "approve_deferral": Stage.APPROVED, "return": Stage.RETURNED,
             "reject": Stage.REJECTED}
RECEIVING_OCCASIONS = ("collection", "supplement", "resubmission")


def deferral_opinion(deferred: list[str]) -> str:
    return f"同意容缺（后补：{'、'.join(deferred)}）"


def review_queue(session: Session, principal: Principal, town_code: str, now: dt.datetime | None = None, *,
                 limit: int = PAGE_DEFAULT, offset: int = 0) -> tuple[list[dict], int, int | None]:
    """One page of the town's queue, longest waiting first, the queue's length, and the next page's
    offset (None: the last)."""
    if not principal.can_see_town(town_code):
        raise Forbidden("town_forbidden", "您只能查看本镇的审核队列")
    now = now or utcnow()
    waiting = (Case.hukou_town_code == town_code, Case.stage == Stage.TOWN_REVIEW)
    total = session.scalar(select(func.count(Case.id)).where(*waiting))
    cases, next_offset = page_of(list(session.scalars(
        select(Case).where(*waiting).order_by(Case.stage_changed_at, Case.id).offset(offset).limit(limit + 1))),
        limit, offset)
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
    return out, total, next_offset


def may_decide(case: Case, principal: Principal) -> bool:
    """The lifecycle table lets this caller make the moves out of 镇审核 that review decisions make."""
    holds = holds_case(case, principal)
    return all(role_may(allowed_roles(Stage.TOWN_REVIEW, target), principal.role, holds)
               for target in set(DECISIONS.values()))


def decide(session: Session, case: Case, principal: Principal, decision: str, opinion: str | None,
           deficiencies: list[str] | None = None, now: dt.datetime | None = None) -> dict:
    if not may_decide(case, principal):
        raise Forbidden("role_forbidden", "只有户籍地镇的审核人员可以审核")
    target = DECISIONS.get(decision)
    if target is None:
        raise ValidationFailed("decision_unknown", "审核结论只能是 通过、同意容缺、退回补正 或 不予受理", field="decision")
    opinion = (opinion or "").strip()
    deficiencies = [d.strip() for d in (deficiencies or []) if d and d.strip()]
    if target == Stage.RETURNED and not deficiencies:
        raise ValidationFailed("deficiencies_required", "退回补正时必须一次性列出需要补齐的全部材料",
                               field="deficiencies")
    if target in (Stage.RETURNED, Stage.REJECTED) and not opinion:
        raise ValidationFailed("opinion_required", "请写明审核意见（退回或不予受理的理由）", field="opinion")
    gap = case_gap(session, case)
    if decision == "approve_deferral":
        opinion = deferral_opinion(gap.deferrable) + (f"。{opinion}" if opinion else "")
    opinion = opinion or "同意，材料齐全，请代办员送办。"
    repeated = _same_decision_already_made(session, case, principal, decision, target, opinion, deficiencies)
    if repeated is not None:
        return repeated
    if decision in ("approve", "approve_deferral"):
        _check_approval_gate(session, case, decision, gap)

    event = transition(session, case, target, principal, opinion, flow=True, now=now, announce=False)
    publish(session, _decided(case, event, target, opinion, deficiencies))  # one push per decision
    session.add(ReviewOpinion(case_id=case.id, reviewer_id=principal.staff.id if principal.staff else None,
                              decision=decision, opinion=opinion, at=now or utcnow(),
                              deferred_materials=gap.deferrable if decision == "approve_deferral" else None))
    notice = None
    if target == Stage.RETURNED:
        notice = _deficiency_notice(session, case, principal, deficiencies, opinion, now)
    session.flush()
    return _answer(case, opinion, notice, repeated=False)


def _decided(case: Case, event: CaseEvent, target: Stage, opinion: str,
             deficiencies: list[str]) -> DeficiencyNotified | CaseApproved | CaseRejected:
    """What the decision published: the resident is told by whoever listens (the pushes)."""
    if target == Stage.RETURNED:
        return DeficiencyNotified(case=case, event=event, materials=deficiencies, opinion=opinion, now=event.at)
    if target == Stage.REJECTED:
        return CaseRejected(case=case, event=event, opinion=opinion, now=event.at)
    return CaseApproved(case=case, event=event, now=event.at)


def _check_approval_gate(session: Session, case: Case, decision: str, gap: Gap) -> None:
    """审核通过 needs every required material; 同意容缺 needs a gap made only of materials the item's
    容缺 allows to follow later. 409 `materials_missing` otherwise, naming the materials."""
    missing = "、".join(gap.missing)
    if decision == "approve":
        if not gap.missing:
            return
        if not gap.core:
            raise Conflict("materials_missing", f"材料还没有齐：缺 {missing}。这些材料可以容缺后补，"
                                                "如同意先行办理，请选择“同意容缺”；否则请退回补正",
                           materials=gap.missing, deferrable=gap.deferrable)
        raise Conflict("materials_missing", f"材料还没有齐：缺 {missing}，不能审核通过，请退回补正",
                       materials=gap.missing, core=gap.core)
    if not gap.missing:
        raise Conflict("deferral_nothing_missing", "材料已经齐全，不需要容缺，请选择“审核通过”")
    item = get_item(session, case.service_code)
    if not item.rongque_listed:
        raise Conflict("deferral_item_not_listed",
                       f"“{item.name}”不在容缺受理清单内，缺 {missing} 须补齐后才能审核通过，请退回补正",
                       materials=gap.missing)
    if gap.core:
        raise Conflict("materials_missing", f"“{'、'.join(gap.core)}”是身份或核心要件，不能容缺后补，"
                                            "须补齐后才能审核通过，请退回补正", materials=gap.missing, core=gap.core)


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
    session.flush()
    refresh_cache(session, case)  # what the notice lists is missing until it arrives again
    return notice


def resubmit(session: Session, case: Case, principal: Principal, materials_have: list[str],
             note: str | None = None, now: dt.datetime | None = None, *, forms: dict[str, str] | None = None,
             in_person: bool = False) -> None:
    """The resident (via the assistant or an agent) has supplied corrections: back to review, with a
    receipt for each material named (a copy unless `forms` says otherwise)."""
    item = get_item(session, case.service_code)
    names = known_materials(item, materials_have)
    if forms:
        known_materials(item, list(forms), "forms")
    now = now or utcnow()
    transition(session, case, Stage.TOWN_REVIEW, principal, note or "已补齐材料，重新提交审核", now=now)
    _receive(session, case, principal, [(n, (forms or {}).get(n, "copy")) for n in names], "resubmission",
             in_person, now)
    session.flush()


def _receive(session: Session, case: Case, principal: Principal, received: list[tuple[str, str]], occasion: str,
             in_person: bool, now: dt.datetime) -> None:
    """Receipts at the staff member's counter (or online when not in person), one trip when in person,
    and a line in the case's history."""
    point = principal.staff.intake_point_code if principal.staff else None
    record_receipts(session, case, principal, received, occasion, point if in_person else ONLINE_POINT, now)
    if in_person:
        purpose = "hand_in" if occasion == "collection" and point else "supplement"
        record_visit(session, case, principal, purpose, now=now)
    if received:
        session.add(CaseEvent(case_id=case.id, kind="materials", actor=principal.actor, actor_role=principal.role,
                              note="收到材料：" + "、".join(f"{n}（{FORMS[f]}）" for n, f in received), at=now))


def receive_materials(session: Session, case: Case, principal: Principal, received: list[tuple[str, str]],
                      occasion: str, in_person: bool, note: str | None = None,
                      now: dt.datetime | None = None) -> None:
    """Materials that came in after intake (collected by the agent, supplemented, or a resubmission).
    A resubmission of a case 退回补正 also sends it back to review, as POST …/resubmit does."""
    if not may(principal.role, Permission.RECEIVE_MATERIALS, holds_case=holds_case(case, principal)):
        raise Forbidden("role_forbidden", "只有办件的代办员、窗口接件人员和管理员可以登记收到的材料")
    if occasion not in RECEIVING_OCCASIONS:
        raise ValidationFailed("occasion_unknown", "收取场合只能是 代办员收取、容缺后补 或 补正", field="occasion")
    if not received:
        raise ValidationFailed("materials_required", "请勾选收到的材料", field="materials")
    if occasion == "resubmission" and case.stage == Stage.RETURNED:
        resubmit(session, case, principal, [n for n, _ in received], note, now, forms=dict(received),
                 in_person=in_person)
        return
    _receive(session, case, principal, received, occasion, in_person, now or utcnow())
    session.flush()
