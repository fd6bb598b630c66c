"""The 容缺 rule (design.md §2 rule 4), in one place.

A case may proceed before every document is in only when:
1. its item is on the county's 容缺 list;
2. every missing material is marked deferrable (identity and core eligibility documents never are);
3. the household town's review has approved it.
The supplement deadline counts working days on the official calendar (with 调休): the item's own
period (catalog `deferral_max_working_days`, else the short default setting), never beyond the item's
promised time limit nor the case's promised completion date.
"""
from __future__ import annotations

import datetime as dt

from erma.cases.materials import known_materials
from erma.cases.stages import Stage
from erma.errors import Conflict, ValidationFailed
from erma.settings import get_settings
from erma.working_days import add_working_days, is_working_day


def check_deferral_allowed(item, case_stage: str, missing: list[str]) -> None:
    if not item.rongque_listed:
        raise Conflict("deferral_item_not_listed", f"“{item.name}”不在容缺受理清单内，须材料齐全后办理")
    if case_stage != Stage.APPROVED:
        raise Conflict("deferral_not_approved", "容缺受理须在户籍地镇审核通过之后办理")
    if not missing:
        raise ValidationFailed("deferral_nothing_missing", "请列出暂缺、需要后补的材料", field="missing")
    known_materials(item, missing, "missing")
    by_name = {m.name: m for m in item.materials}
    core = [n for n in missing if not by_name[n].deferrable]
    if core:
        raise Conflict("deferral_material_not_deferrable",
                       f"“{'、'.join(core)}”是身份或核心要件，不能容缺后补", materials=core)


def deferral_working_days(item) -> int:
    wanted = item.deferral_max_working_days or get_settings().deferral_default_working_days
    return max(1, min(wanted, item.promised_working_days))


def supplement_deadline(item, start: dt.date, promised: dt.date | None = None) -> dt.date:
    """`start` + the item's 容缺 period in working days; not after the case's `promised` date while
    that date is still ahead."""
    deadline = add_working_days(start, deferral_working_days(item))
    if promised is not None and start < promised < deadline:
        return promised
    return deadline


def reminder_date(deadline: dt.date, start: dt.date, days_before: int) -> dt.date:
    """The working day `days_before` working days ahead of the deadline, but not before tomorrow."""
    day = deadline
    counted = 0
    while counted < days_before and day > start:
        day -= dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return max(day, start + dt.timedelta(days=1))
