"""HTTP for the household town's review queue and decisions."""
from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_DB_INT, MAX_LIST_ITEMS, MAX_MATERIAL_NAME, MAX_NOTE, PAGE_DEFAULT, PAGE_MAX
from erma.cases.lifecycle import get_case
from erma.unit_of_work import SESSION
from erma.review.case_file import review_file
from erma.review.service import decide, receive_materials, resubmit, review_queue
from erma.permissions import Permission
from erma.staff.auth import Principal, get_principal, require

router = APIRouter(prefix="/api/v1", tags=["review"])


MaterialName = Annotated[str, Field(max_length=MAX_MATERIAL_NAME)]
InHandForm = Literal["original", "copy"]


class DecisionIn(BaseModel):
    decision: str = Field(max_length=16)  # approve | approve_deferral | return | reject
    opinion: str | None = Field(default=None, max_length=MAX_NOTE)
    deficiencies: list[Annotated[str, Field(max_length=MAX_MATERIAL_NAME)]] = Field(default_factory=list,
                                                                                  max_length=MAX_LIST_ITEMS)


class ResubmitIn(BaseModel):
    materials_have: list[Annotated[str, Field(max_length=MAX_MATERIAL_NAME)]] = Field(default_factory=list,
                                                                                     max_length=MAX_LIST_ITEMS)
    note: str | None = Field(default=None, max_length=MAX_NOTE)
    # Form per material named (default: a copy); in_person: the resident came, which is one trip.
    forms: dict[MaterialName, InHandForm] = Field(default_factory=dict, max_length=MAX_LIST_ITEMS)
    in_person: bool = False


class MaterialIn(BaseModel):
    name: MaterialName
    form: InHandForm


class MaterialsIn(BaseModel):
    materials: list[MaterialIn] = Field(max_length=MAX_LIST_ITEMS)
    occasion: Literal["collection", "supplement", "resubmission"]
    in_person: bool = False
    note: str | None = Field(default=None, max_length=MAX_NOTE)


@router.get("/towns/{town_code}/review-queue")
def town_queue(town_code: str,
               limit: int = Query(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX),
               offset: int = Query(default=0, ge=0, le=MAX_DB_INT),
               principal: Principal = Depends(require(Permission.LIST_CASES)),
               session: Session = SESSION) -> dict:
    """Staff of the town (county-wide roles: any town). Not the assistant's service token: it never
    reads the queue, and the queue names every applicant of the town. One page, longest waiting
    first, and the queue's length (`total`); `next_offset` asks for the next page (null: the last)."""
    items, total, next_offset = review_queue(session, principal, town_code, limit=limit, offset=offset)
    return {"town_code": town_code, "total": total, "items": items, "next_offset": next_offset}


@router.get("/cases/{case_no}/review")
def case_review_file(case_no: str,
                     principal: Principal = Depends(require(Permission.LIST_CASES)),
                     session: Session = SESSION) -> dict:
    """The materials checklist, earlier opinions and notices, the 容缺 record, and the decisions open to the caller."""
    return review_file(session, get_case(session, case_no, principal), principal)


@router.post("/cases/{case_no}/review")
def review_case(case_no: str, body: DecisionIn, principal: Principal = Depends(get_principal),
                session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    return decide(session, case, principal, body.decision, body.opinion, body.deficiencies)


@router.post("/cases/{case_no}/resubmit")
def resubmit_case(case_no: str, body: ResubmitIn, principal: Principal = Depends(get_principal),
                  session: Session = SESSION) -> dict:
    case = get_case(session, case_no, principal, for_update=True)
    resubmit(session, case, principal, body.materials_have, body.note, forms=body.forms, in_person=body.in_person)
    return {"case_no": case.case_no, "stage": case.stage, "materials_missing": case.materials_missing}


@router.post("/cases/{case_no}/materials")
def receive_case_materials(case_no: str, body: MaterialsIn, principal: Principal = Depends(get_principal),
                           session: Session = SESSION) -> dict:
    """Materials that came in after intake (agent holding the case, counter clerk, admin): one receipt each;
    answers with the case's review file."""
    case = get_case(session, case_no, principal, for_update=True)
    receive_materials(session, case, principal, [(m.name, m.form) for m in body.materials], body.occasion,
                      body.in_person, body.note)
    return review_file(session, case, principal)
