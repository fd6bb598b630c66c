"""HTTP for understanding (docs/platform-api.md §Understanding): the assistant asks what a message means."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.bounds import MAX_MESSAGE
from erma.db import get_session
from erma.staff.auth import Principal, require_roles
from erma.understanding.service import understand

router = APIRouter(prefix="/api/v1/understand", tags=["understanding"])


class UnderstandIn(BaseModel):
    text: str = Field(max_length=MAX_MESSAGE, description="居民发来的一句话")


@router.post("")
def understand_message(body: UnderstandIn, _: Principal = Depends(require_roles("service", "admin")),
                       session: Session = Depends(get_session)) -> dict:
    """Which item and which behaviour the message means: `behaviour` requirements | apply | status |
    out_of_scope | other; `item` and `name` when one item is meant; `choices` for a close call;
    `fact` the detail asked first (photo, in_person, eligibility, time, fee)."""
    return understand(session, body.text).as_dict()
