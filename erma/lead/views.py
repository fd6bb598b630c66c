"""HTTP for the duty lead's lists (duty leads and admins only)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from erma.unit_of_work import SESSION
from erma.lead.service import DEFAULT_LIMIT, followups_due, overdue_cases, overdue_deferrals
from erma.staff.auth import Principal, get_principal

router = APIRouter(prefix="/api/v1/lead", tags=["duty lead"])


@router.get("/overdue-deferrals")
def list_overdue_deferrals(town: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0,
                           principal: Principal = Depends(get_principal),
                           session: Session = SESSION) -> dict:
    """容缺 deferrals past their supplement deadline, materials not supplied; longest overdue first."""
    return overdue_deferrals(session, principal, town=town, limit=limit, offset=offset)


@router.get("/overdue-cases")
def list_overdue_cases(town: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0,
                       principal: Principal = Depends(get_principal),
                       session: Session = SESSION) -> dict:
    """Unfinished cases past their promised completion date; longest overdue first."""
    return overdue_cases(session, principal, town=town, limit=limit, offset=offset)


@router.get("/followups")
def list_followups(kind: str = "bad_rating", town: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0,
                   principal: Principal = Depends(get_principal),
                   session: Session = SESSION) -> dict:
    """Open follow-up tasks (差评回访 by default), earliest due first, with days left or overdue."""
    return followups_due(session, principal, kind=kind, town=town, limit=limit, offset=offset)
