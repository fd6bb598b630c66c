"""HTTP for 容缺 deferrals."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.cases.lifecycle import get_case
from erma.db import get_session
from erma.deferral.service import deferral_view, get_deferral, open_deferral, record_reclaim, record_supplement
from erma.staff.auth import Principal, get_principal

router = APIRouter(prefix="/api/v1/cases/{case_no}/deferral", tags=["deferral"])


class DeferralIn(BaseModel):
    missing: list[str] = Field(default_factory=list)
    note: str | None = None


class NoteIn(BaseModel):
    note: str | None = None


@router.post("", status_code=201)
def open_(case_no: str, body: DeferralIn, principal: Principal = Depends(get_principal),
          session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return deferral_view(open_deferral(session, case, principal, body.missing, body.note))


@router.get("")
def read(case_no: str, principal: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    return deferral_view(get_deferral(session, get_case(session, case_no, principal)))


@router.post("/supplement")
def supplement(case_no: str, body: NoteIn, principal: Principal = Depends(get_principal),
               session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return deferral_view(record_supplement(session, case, principal, body.note))


@router.post("/reclaim")
def reclaim(case_no: str, body: NoteIn, principal: Principal = Depends(get_principal),
            session: Session = Depends(get_session)) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return deferral_view(record_reclaim(session, case, principal, body.note))
