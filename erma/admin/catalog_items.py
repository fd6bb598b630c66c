"""Editing one catalog item in the database, checked by the very schema and cross-field rules that
check catalog/services.yaml (erma.catalog.schema, erma.catalog.loader). Codes MX-001…MX-109 are
fixed: an item is edited, never created, renamed to another code or deleted here."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.admin.access import refuse, require_admin
from erma.admin.audit import admin_owned_keys, changed_fields, record
from erma.catalog.loader import field_reason, format_loc, item_rule_violations
from erma.catalog.models import ServiceItem
from erma.catalog.schema import MaterialForm, ServiceItemSpec, Supplier, TimeLimitUnit
from erma.db import as_utc, utcnow
from erma.errors import Conflict, NotFound
from erma.staff.auth import Principal

FIELD_TEXT = {
    "code": "事项编号", "name": "事项名称", "category": "类别", "department": "责任部门", "item_type": "事项类型",
    "agent_mode": "代办方式", "agent_handled": "可否代办", "in_person_required": "是否须本人到场",
    "rongque_listed": "是否列入容缺清单", "rongque_note": "容缺说明", "promised_working_days": "承诺时限（天）",
    "time_limit_unit": "时限计法", "deferral_max_working_days": "容缺补正期限（工作日）", "phrasings": "群众常用说法",
    "guide": "办事指南", "materials": "材料清单",
}
MATERIAL_TEXT = {"name": "名称", "form": "原件/复印件", "count": "份数", "deferrable": "可否容缺",
                 "required": "是否必需", "supplier": "由谁提供", "note": "说明"}
TIME_LIMIT_TEXT = {"working_days": "工作日", "calendar_days": "自然日（法律规定按自然日计）"}
# The schema's own choices, so the editor offers exactly what the file accepts.
CHOICES = {"form": list(get_args(MaterialForm)), "supplier": list(get_args(Supplier)),
           "time_limit_unit": [{"value": v, "text": TIME_LIMIT_TEXT.get(v, v)} for v in get_args(TimeLimitUnit)]}
_PATH = re.compile(r"^(\w+)(?:\[(\d+)\](?:\.(\w+))?)?")


def field_text(path: str) -> str:
    """materials[1].count → 第2项材料的份数; phrasings[0] → 群众常用说法第1条."""
    m = _PATH.match(path or "")
    if not m:
        return path or "整项"
    top, index, sub = m.group(1), m.group(2), m.group(3)
    if top == "materials" and index is not None:
        n = int(index) + 1
        return f"第{n}项材料的{MATERIAL_TEXT.get(sub, sub)}" if sub else f"第{n}项材料"
    if index is not None:
        return f"{FIELD_TEXT.get(top, top)}第{int(index) + 1}条"
    return FIELD_TEXT.get(top, top)


def _stamp(row: ServiceItem) -> str:
    """The item's version as the editor saw it (UTC, whatever the database's session zone)."""
    return as_utc(row.updated_at).astimezone(dt.timezone.utc).isoformat()


def _row(session: Session, code: str, *, for_update: bool = False) -> ServiceItem:
    code = (code or "").strip().upper()
    stmt = select(ServiceItem).where(ServiceItem.code == code)
    row = session.scalar(stmt.with_for_update() if for_update else stmt)
    if row is None:
        raise NotFound("service_not_found", f"没有编号为 {code or '（空）'} 的事项（编号 MX-001 至 MX-109 固定，不能新增）",
                       field="code")
    return row


def item_for_edit(session: Session, principal: Principal, code: str) -> dict:
    require_admin(principal)
    row = _row(session, code)
    return {"item": row.data, "updated_at": _stamp(row),
            "edited_by_admin": row.code in admin_owned_keys(session, "service_item"), "choices": CHOICES}


def validate_item(code: str, raw: Any) -> ServiceItemSpec:
    """The item as the file would have to hold it, or every problem in Chinese, each with its field."""
    if not isinstance(raw, dict):
        refuse([("item", "事项内容应为一组 字段: 值")], "item_invalid")
    problems: list[tuple[str, str]] = []
    if "code" in raw and raw["code"] != code:
        problems.append(("code", "事项编号 MX-001 至 MX-109 固定，不能修改"))
    try:
        spec = ServiceItemSpec.model_validate({**raw, "code": code})
    except ValidationError as exc:
        for error in exc.errors():
            path = format_loc(error["loc"])
            problems.append((path or "item", f"{field_text(path)}：{field_reason(error)}"))
        refuse(problems, "item_invalid")
    problems += [(path, f"{field_text(path)}：{reason}") for path, reason in item_rule_violations(spec)]
    refuse(problems, "item_invalid")
    return spec


def update_item(session: Session, principal: Principal, code: str, raw: Any, base_updated_at: str | None = None,
                now: dt.datetime | None = None) -> dict:
    """Replaces the item with the edited one (validated like the file), and records who changed what."""
    require_admin(principal)
    row = _row(session, code, for_update=True)
    spec = validate_item(row.code, raw)
    if base_updated_at and base_updated_at != _stamp(row):
        raise Conflict("item_changed", "这个事项刚被其他人修改过，请重新打开后再改（您填写的内容还在页面上）")
    new = spec.model_dump(mode="json")
    if new == row.data:
        return {"item": row.data, "updated_at": _stamp(row), "changed": [], "summary": f"事项 {row.code} 没有改动"}
    changed = changed_fields(row.data, new)
    before, after = {k: row.data.get(k) for k in changed}, {k: new[k] for k in changed}
    row.name, row.category, row.department, row.rongque_listed = spec.name, spec.category, spec.department, spec.rongque_listed
    row.data = new
    row.updated_at = now or utcnow()  # moves the catalog version: the search index is rebuilt
    summary = f"修改事项 {row.code} {spec.name}：{'、'.join(FIELD_TEXT.get(k, k) for k in changed)}"
    record(session, principal, "service_item", row.code, "update", summary, before, after, now=now)
    session.flush()
    return {"item": new, "updated_at": _stamp(row), "changed": changed, "summary": summary}
