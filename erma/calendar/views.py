"""HTTP for county admins' holiday overrides (the admin page's 节假日调整). Each edit is committed by the
request's unit of work, which then reloads this process's calendar; other processes pick it up by
erma.calendar.sync.refresh."""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from erma.admin.access import admin_principal
from erma.calendar import service, sync
from erma.calendar.service import OverrideBody, YearSourceBody
from erma.staff.auth import Principal
from erma.unit_of_work import SESSION, after_commit


class CalendarRoute(APIRoute):
    """A body that does not fit its model is refused with the calendar's own Chinese words per field
    (erma.calendar.service.FIELD_PROBLEMS), not the platform's generic ones."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                service.refuse_body(list(exc.errors()))
                raise

        return route


router = APIRouter(prefix="/api/v1/admin/calendar", tags=["admin"], route_class=CalendarRoute)


def _reload_after_commit(session: Session) -> None:
    # This process's calendar follows the edit as soon as the request's unit of work has committed it.
    after_commit(session, lambda: sync.refresh(force=True))


@router.get("")
def overview(principal: Principal = Depends(admin_principal), session: Session = SESSION) -> dict:
    """Overrides by year with each year's coverage; `warnings` for this year and next when uncovered."""
    return service.calendar_overview(session, principal)


@router.post("/overrides", status_code=201)
def override_set(body: OverrideBody, principal: Principal = Depends(admin_principal),
                 session: Session = SESSION) -> dict:
    """Body: {"day": "2027-01-01", "kind": "holiday" | "working", "note": "元旦"}."""
    result = service.set_override(session, principal, body)
    _reload_after_commit(session)
    return result


@router.delete("/overrides/{day}")
def override_delete(day: str, principal: Principal = Depends(admin_principal),
                    session: Session = SESSION) -> dict:
    result = service.delete_override(session, principal, day)
    _reload_after_commit(session)
    return result


@router.put("/years/{year}")
def year_source(year: int, body: YearSourceBody, principal: Principal = Depends(admin_principal),
                session: Session = SESSION) -> dict:
    """Body: {"source": "国办发明电〔2026〕…号"}; an empty source withdraws it."""
    result = service.set_year_source(session, principal, year, body)
    _reload_after_commit(session)
    return result
