"""What a reviewer reads before deciding: the item's materials checked against what the resident has,
earlier opinions and deficiency notices, the 容缺 record, and which decisions this person may make now.

The review page shows this as it comes; whether a decision is open is the lifecycle's answer, not the page's."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.stages import STAGE_TEXT, Stage, allowed_roles
from erma.catalog.service import get_item
from erma.deferral.models import Deferral
from erma.deferral.service import deferral_view
from erma.review.models import DeficiencyNotice, ReviewOpinion
from erma.review.service import DECISIONS
from erma.staff.auth import Principal
from erma.staff.models import Staff

DECISION_TEXT = {"approve": "审核通过", "return": "退回补正", "reject": "不予受理"}
MATERIAL_STATUS_TEXT = {"have": "已有", "missing": "缺", "optional": "视情况提供"}


def checklist(session: Session, case: Case) -> tuple[list[dict], list[str]]:
    """Each of the item's materials with whether the resident has it; and what the case still lacks
    beyond the item's list (free-text lines of an earlier deficiency notice)."""
    item = get_item(session, case.service_code)
    have = set(case.materials_have or [])
    missing = list(case.materials_missing or [])
    rows = []
    for material in item.materials if item else []:
        # A material a deficiency notice asked for counts as missing even if the resident had handed one in.
        if material.name in missing or (material.required and material.name not in have):
            status = "missing"
        elif material.name in have:
            status = "have"
        else:
            status = "optional"
        rows.append({**material.model_dump(mode="json"), "status": status,
                     "status_text": MATERIAL_STATUS_TEXT[status]})
    listed = {m["name"] for m in rows}
    return rows, [m for m in missing if m not in listed]


def open_decisions(case: Case, principal: Principal) -> tuple[list[dict], str | None]:
    """The decisions this person may make on the case now, or why there are none."""
    stage = Stage(case.stage)
    if stage != Stage.TOWN_REVIEW:
        return [], f"办件当前为“{STAGE_TEXT[stage]}”，不在审核中，不能审核"
    choices = [{"decision": decision, "text": DECISION_TEXT[decision]}
               for decision, target in DECISIONS.items()
               if principal.role in (allowed_roles(stage, target) or ())]
    return choices, None if choices else "只有户籍地镇的审核人员可以审核"


def review_file(session: Session, case: Case, principal: Principal) -> dict:
    rows, other_missing = checklist(session, case)
    decisions, closed_because = open_decisions(case, principal)
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
        "other_missing": other_missing,
        "decisions": decisions,
        "decision_closed_reason": closed_because,
        "opinions": [{"at": o.at.isoformat(), "decision": o.decision,
                      "decision_text": DECISION_TEXT.get(o.decision, o.decision), "opinion": o.opinion,
                      "reviewer": name} for o, name in opinions],
        "deficiency_notices": [{"seq": n.seq, "is_repeat": n.is_repeat, "materials": n.materials, "note": n.note,
                                "at": n.at.isoformat()} for n in notices],
        "deferral": deferral_view(deferral) if deferral else None,
    }
