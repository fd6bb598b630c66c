"""Single-field validation for the assistant's form: the platform's own rules, one field at a time."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma import pii
from erma.cases.intake import validate_name
from erma.db import get_session
from erma.errors import ValidationFailed
from erma.id_numbers import validate_id_number
from erma.phones import validate_mobile
from erma.places.service import resolve_place
from erma.staff.auth import Principal, require_roles

router = APIRouter(prefix="/api/v1", tags=["validation"])


class FieldIn(BaseModel):
    field: str = Field(max_length=32)
    value: str = Field(default="", max_length=200)


@router.post("/validation")
def validate_field(body: FieldIn, _: Principal = Depends(require_roles("service", "agent", "admin")),
                   session: Session = Depends(get_session)) -> dict:
    try:
        if body.field == "id_number":
            number = validate_id_number(body.value)
            # The assistant keeps the number for the case; it only ever shows the masked form.
            return {"valid": True, "value": number, "display": pii.mask_id_number(number)}
        if body.field == "phone":
            phone = validate_mobile(body.value)
            return {"valid": True, "value": phone, "display": pii.mask_phone(phone)}
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
