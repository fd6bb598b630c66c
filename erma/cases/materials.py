"""What a case has and lacks, read from the material receipts (one row per material as it arrived).

The one owner of this answer: the review file, the gates (review decisions, the department stage,
completion), the status answers and the `Case.materials_have/materials_missing` cache all read it here.

A material is
- `received` when a receipt in hand (original or copy) arrived after the latest deficiency notice that
  listed it (or ever, if no notice listed it);
- `declared` when the resident only said online they have it (counts as present for the gates);
- `missing` when required and neither, or listed by the latest deficiency notice and not received since;
- `optional` otherwise (not required, not in).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.models import Case, MaterialReceipt
from erma.cases.stages import Stage
from erma.catalog.service import get_item
from erma.db import utcnow
from erma.deferral.models import Deferral
from erma.errors import Conflict, ValidationFailed
from erma.places.models import IntakePoint
from erma.review.models import DeficiencyNotice
from erma.staff.auth import Principal
from erma.staff.models import Staff

FORMS = {"original": "原件", "copy": "复印件", "declared": "群众自述"}
IN_HAND_FORMS = frozenset({"original", "copy"})
OCCASIONS = {"intake": "收件", "resubmission": "补正", "collection": "代办员收取", "supplement": "容缺后补"}
STATUS_TEXT = {"received": "✓ 已收", "declared": "群众自述已有，待收取", "missing": "✗ 缺", "optional": "视情况提供"}
ONLINE_POINT = "online"
# A deferral in these states stands for the materials it lists (an overdue one no longer does).
COVERING_DEFERRALS = frozenset({"open", "supplied", "closed"})


@dataclass
class MaterialState:
    name: str
    spec: object  # erma.catalog.schema.Material
    status: str
    can_defer: bool
    receipts: list[MaterialReceipt] = field(default_factory=list)


@dataclass
class Gap:
    """The case's missing materials, split by what the 容缺 rule allows to follow later."""
    missing: list[str]
    core: list[str]  # not deferrable, or the item is not 容缺-listed
    deferrable: list[str]  # deferrable on a 容缺-listed item
    other: list[str]  # free-text lines of a pending deficiency notice, beyond the item's list


def known_materials(item, names: list[str], field_name: str = "materials_have") -> list[str]:
    """The names, checked against the item's list (422 naming the unknown ones), in the catalog's
    order without repeats."""
    known = {m.name for m in item.materials}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValidationFailed("material_unknown",
                               f"“{'、'.join(unknown)}”不在“{item.name}”的材料清单里，请按清单核对",
                               field=field_name)
    wanted = set(names)
    return [m.name for m in item.materials if m.name in wanted]


def record_receipts(session: Session, case: Case, principal: Principal, received: list[tuple[str, str]],
                    occasion: str, point_code: str | None, now: dt.datetime | None = None,
                    field_name: str = "materials") -> list[MaterialReceipt]:
    """One receipt per (material name, form), then the case's cache refreshed. Does not commit."""
    if occasion not in OCCASIONS:
        raise ValidationFailed("occasion_unknown", "收取场合只能是 收件、补正、代办员收取 或 容缺后补", field="occasion")
    bad_forms = sorted({form for _, form in received if form not in FORMS})
    if bad_forms:
        raise ValidationFailed("material_form_unknown", "材料形式只能是 原件、复印件 或 群众自述", field=field_name)
    item = get_item(session, case.service_code)
    known_materials(item, [name for name, _ in received], field_name)
    now = now or utcnow()
    staff_id = principal.staff.id if principal.staff else None
    rows = [MaterialReceipt(case_id=case.id, material=name, form=form, occasion=occasion,
                            intake_point_code=point_code, staff_id=staff_id, actor=principal.actor, at=now)
            for name, form in dict(received).items()]
    session.add_all(rows)
    session.flush()
    refresh_cache(session, case)
    return rows


def _latest_notice(session: Session, case: Case) -> DeficiencyNotice | None:
    return session.scalar(select(DeficiencyNotice).where(DeficiencyNotice.case_id == case.id)
                          .order_by(DeficiencyNotice.seq.desc()).limit(1))


def material_states(session: Session, case: Case) -> list[MaterialState]:
    """Each of the item's materials with its status and receipts, in the catalog's order."""
    item = get_item(session, case.service_code)
    if item is None:
        return []
    receipts = session.scalars(select(MaterialReceipt).where(MaterialReceipt.case_id == case.id)
                               .order_by(MaterialReceipt.at, MaterialReceipt.id)).all()
    notices = session.scalars(select(DeficiencyNotice).where(DeficiencyNotice.case_id == case.id)
                              .order_by(DeficiencyNotice.seq)).all()
    latest_listed = set(notices[-1].materials) if notices else set()
    listed_at = {name: n.at for n in notices for name in n.materials}  # the latest notice listing each
    states = []
    for material in item.materials:
        own = [r for r in receipts if r.material == material.name]
        since = listed_at.get(material.name)
        counted = [r for r in own if since is None or r.at > since]
        if any(r.form in IN_HAND_FORMS for r in counted):
            status = "received"
        elif material.name in latest_listed:
            status = "missing"
        elif counted:
            status = "declared"
        else:
            status = "missing" if material.required else "optional"
        states.append(MaterialState(material.name, material, status,
                                    can_defer=status == "missing" and material.deferrable and item.rongque_listed,
                                    receipts=own))
    return states


def case_gap(session: Session, case: Case, states: list[MaterialState] | None = None) -> Gap:
    states = material_states(session, case) if states is None else states
    missing = [s.name for s in states if s.status == "missing"]
    other: list[str] = []
    if case.stage == Stage.RETURNED:
        notice = _latest_notice(session, case)
        listed = {s.name for s in states}
        other = [m for m in (notice.materials if notice else []) if m not in listed]
    return Gap(missing=missing, core=[s.name for s in states if s.status == "missing" and not s.can_defer],
               deferrable=[s.name for s in states if s.can_defer], other=other)


def refresh_cache(session: Session, case: Case) -> None:
    """`Case.materials_have/materials_missing` from the receipts (lists and pages read the cache)."""
    states = material_states(session, case)
    gap = case_gap(session, case, states)
    case.materials_have = [s.name for s in states if s.status in ("received", "declared")]
    case.materials_missing = gap.missing + gap.other


def uncovered_missing(session: Session, case: Case) -> list[str]:
    """Missing materials the case's 容缺 (its 一表一书) does not stand for."""
    deferral = session.scalar(select(Deferral).where(Deferral.case_id == case.id))
    covered = set(deferral.missing_materials) if deferral and deferral.status in COVERING_DEFERRALS else set()
    return [m for m in case_gap(session, case).missing if m not in covered]


def require_ready(session: Session, case: Case, target_text: str) -> None:
    """409 `materials_missing` unless every required material is in or covered by the case's 容缺."""
    lacking = uncovered_missing(session, case)
    if lacking:
        raise Conflict("materials_missing",
                       f"材料还没有齐：缺 {'、'.join(lacking)}。请先收齐材料（或办理容缺受理）再变为“{target_text}”",
                       materials=lacking)


def receipt_views(session: Session, receipts: list[MaterialReceipt]) -> list[dict]:
    """Receipts as the review file shows them: when, form, occasion, where, by whom."""
    points = {r.intake_point_code for r in receipts if r.intake_point_code}
    staff_ids = {r.staff_id for r in receipts if r.staff_id}
    point_rows = {p.code: p for p in session.scalars(select(IntakePoint).where(IntakePoint.code.in_(points)))} \
        if points else {}
    names = dict(session.execute(select(Staff.id, Staff.display_name).where(Staff.id.in_(staff_ids))).all()) \
        if staff_ids else {}
    out = []
    for r in receipts:
        point = point_rows.get(r.intake_point_code)
        place = "地点未登记" if point is None else "线上" if point.kind == "online" else point.name
        out.append({"at": r.at.isoformat(), "form": r.form, "form_text": FORMS.get(r.form, r.form),
                    "occasion": r.occasion, "occasion_text": OCCASIONS.get(r.occasion, r.occasion),
                    "place": place, "by": names.get(r.staff_id, "群众/智能助手")})
    return out
