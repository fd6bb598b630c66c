"""What a reviewer reads before deciding: the item's materials with what arrived of each (the receipts),
earlier opinions and deficiency notices, the 容缺 record, and which decisions this person may make now.

The review page shows this as it comes; whether a decision is open is the lifecycle's answer, not the page's."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.lifecycle import may_move
from erma.cases.materials import STATUS_TEXT, Gap, case_gap, material_states, receipt_views
from erma.cases.models import Case
from erma.cases.visits import case_visits
from erma.cases.stages import STAGE_TEXT, Stage
from erma.deferral.models import Deferral
from erma.deferral.service import deferral_view
from erma.review.models import DeficiencyNotice, ReviewOpinion
from erma.review.service import DECISIONS, deferral_opinion
from erma.staff.auth import Principal
from erma.staff.models import Staff

DECISION_TEXT = {"approve": "审核通过", "approve_deferral": "同意容缺", "return": "退回补正", "reject": "不予受理"}


def checklist(session: Session, case: Case) -> tuple[list[dict], Gap]:
    """Each of the item's materials with its status and receipts; and the case's gap."""
    states = material_states(session, case)
    rows = [{**state.spec.model_dump(mode="json"), "status": state.status, "status_text": STATUS_TEXT[state.status],
             "can_defer": state.can_defer, "receipts": receipt_views(session, state.receipts)} for state in states]
    return rows, case_gap(session, case, states)


def _offered(decision: str, gap: Gap) -> bool:
    """The gates: 审核通过 with nothing missing; 同意容缺 with a gap that may all follow later."""
    if decision == "approve":
        return not gap.missing
    if decision == "approve_deferral":
        return bool(gap.missing) and not gap.core
    return True


def _blocked_reason(gap: Gap) -> str | None:
    if not gap.missing:
        return None
    if not gap.core:
        return f"缺 {'、'.join(gap.missing)}，可以容缺后补：可选择“同意容缺”或退回补正"
    return f"缺 {'、'.join(gap.core)}，不能审核通过，请退回补正"


def open_decisions(case: Case, principal: Principal, gap: Gap) -> tuple[list[dict], str | None]:
    """The decisions this person may make on the case now, or why there are none."""
    stage = Stage(case.stage)
    if stage != Stage.TOWN_REVIEW:
        return [], f"办件当前为“{STAGE_TEXT[stage]}”，不在审核中，不能审核"
    choices = [{"decision": decision,
                "text": deferral_opinion(gap.deferrable) if decision == "approve_deferral" else DECISION_TEXT[decision]}
               for decision, target in DECISIONS.items()
               if may_move(case, principal, target) and _offered(decision, gap)]
    return choices, None if choices else "只有户籍地镇的审核人员可以审核"


def review_file(session: Session, case: Case, principal: Principal) -> dict:
    rows, gap = checklist(session, case)
    decisions, closed_because = open_decisions(case, principal, gap)
    opinions = session.execute(
        select(ReviewOpinion, Staff.display_name).outerjoin(Staff, Staff.id == ReviewOpinion.reviewer_id)
        .where(ReviewOpinion.case_id == case.id).order_by(ReviewOpinion.at, ReviewOpinion.id)).all()
    notices = session.scalars(select(DeficiencyNotice).where(DeficiencyNotice.case_id == case.id)
                              .order_by(DeficiencyNotice.seq)).all()
    deferral = session.scalar(select(Deferral).where(Deferral.case_id == case.id))
    return {
        "case_no": case.case_no,
        "stage": case.stage,
        "stage_text": STAGE_TEXT[Stage(case.stage)],
        "checklist": rows,
        "other_missing": gap.other,
        "suggested_deficiencies": gap.core + gap.other,
        "deferrable_gap": gap.deferrable,
        "core_gap": gap.core,
        "decisions": decisions,
        "approve_blocked_reason": (_blocked_reason(gap) if Stage(case.stage) == Stage.TOWN_REVIEW
                                   and any(d["decision"] == "return" for d in decisions) else None),
        "decision_closed_reason": closed_because,
        "opinions": [{"at": o.at.isoformat(), "decision": o.decision,
                      "decision_text": DECISION_TEXT.get(o.decision, o.decision), "opinion": o.opinion,
                      "deferred_materials": o.deferred_materials, "reviewer": name} for o, name in opinions],
        "deficiency_notices": [{"seq": n.seq, "is_repeat": n.is_repeat, "materials": n.materials, "note": n.note,
                                "at": n.at.isoformat()} for n in notices],
        "deferral": deferral_view(deferral) if deferral else None,
        "visits": case_visits(session, case),
    }
