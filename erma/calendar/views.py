"""HTTP for county admins' holiday overrides (the admin page's 节假日调整). Each edit commits here and
then reloads this process's calendar; other processes pick it up by erma.calendar.sync.refresh."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from sqlalchemy.orm import Session

from erma.admin.access import refuse
from erma.calendar import service, sync
from erma.db import get_session
from erma.staff.auth import Principal, get_principal

router = APIRouter(prefix="/api/v1/admin/calendar", tags=["admin"])


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        refuse([("body", "请求内容应为一组 字段: 值")], "body_invalid")
    return body


def _commit(session: Session) -> None:
    session.commit()
    sync.refresh(force=True)


@router.get("")
def overview(principal: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    """Overrides by year with each year's coverage; `warnings` for this year and next when uncovered."""
    return service.calendar_overview(session, principal)


@router.post("/overrides", status_code=201)
def override_set(body: Any = Body(...), principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    """Body: {"day": "2027-01-01", "kind": "holiday" | "working", "note": "元旦"}."""
    result = service.set_override(session, principal, _object(body))
    _commit(session)
    return result


@router.delete("/overrides/{day}")
def override_delete(day: str, principal: Principal = Depends(get_principal),
                    session: Session = Depends(get_session)) -> dict:
    result = service.delete_override(session, principal, day)
    _commit(session)
    return result


@router.put("/years/{year}")
def year_source(year: int, body: Any = Body(...), principal: Principal = Depends(get_principal),
                session: Session = Depends(get_session)) -> dict:
    """Body: {"source": "国办发明电〔2026〕…号"}; an empty source withdraws it."""
    result = service.set_year_source(session, principal, year, _object(body))
    _commit(session)
    return result
