"""Single-field validation for the assistant's form: the platform's own rules, one field at a time."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma import pii
from erma.cases.intake import validate_name
from erma.unit_of_work import SESSION
from erma.errors import ValidationFailed
from erma.id_numbers import validate_id_number
from erma.phones import validate_mobile
from erma.pii_refs import service as references
from erma.places.service import resolve_place
from erma.permissions import Permission
from erma.staff.auth import Principal, require

router = APIRouter(prefix="/api/v1", tags=["validation"])


class FieldIn(BaseModel):
    field: str = Field(max_length=32)
    value: str = Field(default="", max_length=200)
    # The conversation a reference (〔身份证#…〕, 〔手机#…〕) in `value` belongs to: Rasa's sender id.
    conversation_id: str | None = Field(default=None, max_length=64)


PERSONAL = {"id_number": (validate_id_number, pii.mask_id_number), "phone": (validate_mobile, pii.mask_phone)}


def _personal_field(session: Session, body: FieldIn) -> dict:
    """An ID number or phone, given as the reference the gateway put in the resident's text (the
    answer carries the reference again, never the number) or, for staff, as the value itself."""
    validate, mask = PERSONAL[body.field]
    value = validate(references.resolve(session, body.conversation_id, body.value, body.field))
    if references.find(body.value) is None:
        return {"valid": True, "value": value, "display": mask(value)}
    reference, _ = references.canonical(session, body.conversation_id, body.value, body.field)
    return {"valid": True, "value": reference, "display": mask(value)}


@router.post("/validation")
def validate_field(body: FieldIn, _: Principal = Depends(require(Permission.OPEN_CASE)),
                   session: Session = SESSION) -> dict:
    try:
        if body.field in PERSONAL:
            return _personal_field(session, body)
        if body.field == "name":
            name = validate_name(body.value)
            return {"valid": True, "value": name, "display": name}
        if body.field == "hukou_town":
            place = resolve_place(session, body.value)
            display = place.town.name + (place.village or "")
            return {"valid": True, "value": place.town.name, "display": display, "town_code": place.town.code,
                    "town_name": place.town.name, "village": place.village}
    except ValidationFailed as exc:
        return {"valid": False, "code": exc.code, "message": exc.message, "field": exc.field}
    raise ValidationFailed("field_unknown", f"不支持校验字段“{body.field}”", field="field")
