"""Holiday overrides as county admins keep them on the admin page (节假日调整).

An override makes one day a holiday (放假) or a working day (调休上班); it wins over the holiday library
and catalog/calendar_overrides.yaml. A year counts as covered once its official arrangement is known:
the library has it, the file names its source, or an admin entered the year's source here. Every change
is in the admin audit trail. These functions flush; the request's unit of work commits and then reloads
the calendar (erma.calendar.sync) so the next date computed uses it."""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.admin.access import refuse, require_admin
from erma.admin.audit import record
from erma.calendar.models import CalendarOverride, CalendarYear
from erma.calendar.sync import OVERRIDE_ENTITY, YEAR_ENTITY
from erma.cases.models import Case
from erma.clock import local_midnight_utc, today_local
from erma.db import utcnow
from erma.errors import Conflict, NotFound
from erma.staff.auth import Principal
from erma.working_days import default_calendar

KIND_TEXT = {"holiday": "放假", "working": "调休上班"}
WHERE_TEXT = {"library": "国务院放假安排已在程序库中", "file": "节假日调整表文件", "admin": "管理员录入"}
FIRST_YEAR, LAST_YEAR = 2000, 2100
FIELD_PROBLEMS = {"day": "日期格式不对，应写成 2027-01-01", "kind": "请选择“放假”或“调休上班”",
                  "note": "说明最多 200 个字", "source": "通知文号或标题最多 200 个字"}


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    day: dt.date
    kind: Literal["holiday", "working"]
    note: str = Field("", max_length=200)


class YearSourceBody(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    source: str = Field("", max_length=200)


def refuse_body(errors: list[dict]) -> None:
    """A body that does not fit OverrideBody / YearSourceBody (pydantic's `errors()`, located in the body):
    refused with the calendar's own words for each field."""
    fields = [str(e["loc"][1]) if len(e["loc"]) > 1 else "body" for e in errors if e["loc"][:1] == ("body",)]
    if fields == ["body"]:
        refuse([("body", "请求内容应为一组 字段: 值")], "body_invalid")
    refuse([(f, FIELD_PROBLEMS.get(f, "填写的内容不对")) for f in dict.fromkeys(fields) if f != "body"],
           "calendar_invalid")


def _check_year(year: int, field: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        refuse([(field, f"年份应在 {FIRST_YEAR} 到 {LAST_YEAR} 之间")], "calendar_invalid")


def uncovered_warning(year: int) -> str:
    return (f"{year} 年的法定节假日安排尚未录入，涉及该年的承诺办结日期为暂定。国务院办公厅公布放假安排后，"
            f"请在下面录入 {year} 年的放假日和调休上班日，并填写通知文号。")


def _override_view(row: CalendarOverride) -> dict:
    return {"day": row.day.isoformat(), "kind": row.kind, "kind_text": KIND_TEXT[row.kind], "note": row.note,
            "weekday": "一二三四五六日"[row.day.weekday()], "updated_by": row.updated_by.removeprefix("staff:"),
            "updated_at": row.updated_at.isoformat()}


def _year_view(year: int, rows: list[CalendarOverride]) -> dict:
    where, source = default_calendar().source_of(year)
    return {"year": year, "covered": bool(where), "source": source, "source_from": where,
            "source_text": WHERE_TEXT.get(where, ""), "warning": None if where else uncovered_warning(year),
            "items": [_override_view(r) for r in rows]}


def calendar_overview(session: Session, principal: Principal, today: dt.date | None = None) -> dict:
    """Overrides by year, with each year's coverage; `warnings` for this year and next when not covered."""
    require_admin(principal)
    today = today or today_local()
    by_year: dict[int, list[CalendarOverride]] = {today.year: [], today.year + 1: []}
    for row in session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)):
        by_year.setdefault(row.day.year, []).append(row)
    years = [_year_view(y, rows) for y, rows in sorted(by_year.items())]
    return {"years": years, "warnings": [{"year": y["year"], "message": y["warning"]} for y in years
                                         if y["warning"] and y["year"] in (today.year, today.year + 1)]}


def _cases_counted_across(session: Session, day: dt.date) -> int:
    """Cases whose promised date was counted over `day` (opened before it, promised on or after it)."""
    return session.scalar(select(func.count()).select_from(Case)
                          .where(Case.created_at < local_midnight_utc(day), Case.expected_completion_date >= day))


def _change_notice(session: Session, day: dt.date, today: dt.date) -> str | None:
    used = _cases_counted_across(session, day)
    if day < today:
        return (f"{day.isoformat()} 已经过去，已保存。" + (f"已有 {used} 件办件的期限计算用到了这一天，" if used else "")
                + "已算出的承诺办结日期和容缺期限不会随之改变。")
    if used:
        return (f"已保存。已有 {used} 件办件的承诺办结日期按原来的日历算出，不会自动改变；"
                "此后新算的日期按新设置计算。")
    return None


def set_override(session: Session, principal: Principal, data: OverrideBody, now: dt.datetime | None = None) -> dict:
    """Makes a day a holiday or a working day. A day has one setting: to turn a holiday into a
    working day (or back) delete it first, so that nobody flips a day by a slip of the finger."""
    require_admin(principal)
    _check_year(data.day.year, "day")
    row = session.get(CalendarOverride, data.day)
    before = _override_view(row) if row else None
    if row is not None and row.kind != data.kind:
        raise Conflict("calendar_day_taken",
                       f"{data.day.isoformat()} 已设为{KIND_TEXT[row.kind]}，同一天不能既放假又上班；"
                       f"如要改为{KIND_TEXT[data.kind]}，请先删除原来的设置", field="day")
    if row is None:
        row = CalendarOverride(day=data.day, kind=data.kind)
        session.add(row)
    row.note, row.updated_by = data.note, principal.actor
    row.updated_at = now or utcnow()
    session.flush()
    view = _override_view(row)
    record(session, principal, OVERRIDE_ENTITY, data.day.isoformat(), "update" if before else "create",
           f"{data.day.isoformat()} 设为{KIND_TEXT[data.kind]}" + (f"（{data.note}）" if data.note else ""),
           before, view, now=now)
    session.flush()
    return {**view, "notice": _change_notice(session, data.day, today_local(now))}


def delete_override(session: Session, principal: Principal, day: str, now: dt.datetime | None = None) -> dict:
    require_admin(principal)
    try:
        parsed = dt.date.fromisoformat(day)
    except ValueError:
        raise NotFound("calendar_override_not_found", f"没有 {day} 这一天的节假日调整") from None
    row = session.get(CalendarOverride, parsed)
    if row is None:
        raise NotFound("calendar_override_not_found", f"没有 {parsed.isoformat()} 这一天的节假日调整")
    before = _override_view(row)
    session.delete(row)
    record(session, principal, OVERRIDE_ENTITY, parsed.isoformat(), "delete",
           f"删除 {parsed.isoformat()} 的{before['kind_text']}设置", before, None, now=now)
    session.flush()
    return {"deleted": parsed.isoformat(), "notice": _change_notice(session, parsed, today_local(now))}


def set_year_source(session: Session, principal: Principal, year: int, data: YearSourceBody,
                    now: dt.datetime | None = None) -> dict:
    """Records that the year's official arrangement is entered in full, from the named notice; an
    empty source withdraws that, and the year's dates are provisional again."""
    require_admin(principal)
    _check_year(year, "year")
    where, source = default_calendar().source_of(year)
    before = {"source": source} if where == "admin" else None
    if not data.source and before is None:
        refuse([("source", "请填写国务院办公厅放假安排通知的文号或标题")], "calendar_invalid")
    summary = (f"{year} 年节假日安排已录入，依据：{data.source}" if data.source
               else f"撤销 {year} 年节假日安排的依据，该年日期重新视为暂定")
    row = session.get(CalendarYear, year)
    if data.source:
        row = row or CalendarYear(year=year)
        row.source, row.updated_by, row.updated_at = data.source, principal.actor, now or utcnow()
        session.add(row)
    elif row is not None:
        session.delete(row)
    record(session, principal, YEAR_ENTITY, str(year), "update" if data.source else "delete", summary,
           before, {"source": data.source}, now=now)
    session.flush()
    return {"year": year, "source": data.source}
