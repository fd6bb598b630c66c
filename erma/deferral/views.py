"""HTTP for 容缺 deferrals."""
from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_LIST_ITEMS, MAX_MATERIAL_NAME, MAX_NOTE
from erma.cases.lifecycle import get_case
from erma.unit_of_work import SESSION
from erma.deferral.forms_pdf import form_facts, render_forms_pdf
from erma.deferral.service import deferral_view, get_deferral, open_deferral, record_reclaim, record_supplement
from erma.errors import Forbidden
from erma.permissions import Permission, may
from erma.staff.auth import Principal, get_principal

router = APIRouter(prefix="/api/v1/cases/{case_no}/deferral", tags=["deferral"])


class DeferralIn(BaseModel):
    missing: list[Annotated[str, Field(max_length=MAX_MATERIAL_NAME)]] = Field(default_factory=list,
                                                                             max_length=MAX_LIST_ITEMS)
    note: str | None = Field(default=None, max_length=MAX_NOTE)


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=MAX_NOTE)


@router.post("", status_code=201)
def open_(case_no: str, body: DeferralIn, principal: Principal = Depends(get_principal),
          session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return deferral_view(open_deferral(session, case, principal, body.missing, body.note))


@router.get("")
def read(case_no: str, principal: Principal = Depends(get_principal), session: Session = SESSION) -> dict:
    return deferral_view(get_deferral(session, get_case(session, case_no, principal)))


@router.post("/supplement")
def supplement(case_no: str, body: NoteIn, principal: Principal = Depends(get_principal),
               session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return deferral_view(record_supplement(session, case, principal, body.note))


@router.post("/reclaim")
def reclaim(case_no: str, body: NoteIn, principal: Principal = Depends(get_principal),
            session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return deferral_view(record_reclaim(session, case, principal, body.note))


@router.get("/forms.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "容缺快办审核表 + 诚信背书单, A4"}})
def forms_pdf(case_no: str, principal: Principal = Depends(get_principal),
              session: Session = SESSION) -> Response:
    case = get_case(session, case_no, principal)  # another town's case: the same 404 as an unknown one
    if not may(principal.role, Permission.FORMS_PDF):
        raise Forbidden("role_forbidden", "只有代办员、轮值组长和管理员可以打印一表一书")
    deferral = get_deferral(session, case)
    pdf = render_forms_pdf(form_facts(session, case, deferral))
    ascii_name = f"yibiaoyishu-{case.case_no}.pdf"  # for clients that ignore filename*
    utf8_name = quote(f"一表一书-{case.case_no}.pdf")
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}",
        # Masked, but still personal data: no shared caches.
        "Cache-Control": "no-store"})
