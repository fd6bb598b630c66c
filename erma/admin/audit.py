"""Recording admin changes, reading them back, and telling the county-data loaders what admins own.

Catalog items, staff and town aliases start life in the files under catalog/ and are loaded by
`python -m erma load` (every `make run`). Once an admin has changed one in the database, the
database copy is the county's current word: a later load leaves it as the admin left it (see
erma/__main__.py load()), so a restart never silently undoes an admin's edit."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.admin.models import AdminAudit
from erma.db import utcnow
from erma.staff.auth import Principal

ENTITY_TEXT = {"service_item": "事项", "staff": "人员", "town_alias": "镇的别名",
               "calendar_override": "节假日调整", "calendar_year": "年度放假安排"}
ACTION_TEXT = {"update": "修改", "create": "新增", "deactivate": "停用", "activate": "启用",
               "reset_password": "重置密码", "delete": "删除"}


def record(session: Session, principal: Principal, entity: str, key: str, action: str, summary: str,
           before: dict | None = None, after: dict | None = None, now: dt.datetime | None = None) -> AdminAudit:
    """Adds the audit row to the caller's transaction (committed together with the change)."""
    row = AdminAudit(at=now or utcnow(), actor_id=principal.staff.id if principal.staff else None,
                     actor=principal.actor, entity=entity, entity_key=key, action=action, summary=summary,
                     before=before, after=after)
    session.add(row)
    return row


def changed_fields(before: dict, after: dict) -> list[str]:
    return [k for k in after if before.get(k) != after.get(k)]


def admin_owned_keys(session: Session, entity: str) -> set[str]:
    """Keys of the entities of one kind that an admin has changed: loads leave these alone."""
    return set(session.scalars(select(AdminAudit.entity_key).where(AdminAudit.entity == entity).distinct()))


def audit_view(row: AdminAudit) -> dict:
    return {"id": row.id, "at": row.at.isoformat(), "actor": row.actor.removeprefix("staff:"),
            "entity": row.entity, "entity_text": ENTITY_TEXT.get(row.entity, row.entity), "key": row.entity_key,
            "action": row.action, "action_text": ACTION_TEXT.get(row.action, row.action), "summary": row.summary,
            "before": row.before, "after": row.after}


def list_audit(session: Session, *, entity: str | None = None, key: str | None = None, limit: int = 100) -> list[dict]:
    stmt = select(AdminAudit).order_by(AdminAudit.id.desc()).limit(limit)
    if entity:
        stmt = stmt.where(AdminAudit.entity == entity)
    if key:
        stmt = stmt.where(AdminAudit.entity_key == key)
    return [audit_view(r) for r in session.scalars(stmt)]
