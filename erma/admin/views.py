"""HTTP for county admins: catalog items, staff and agents, towns' aliases, the audit trail.

Bodies are pydantic models of the shape each form sends; what each value must be (a known town, a
password strong enough, an item valid like the catalog file…) is the services' check, so every wrong
value still comes back as a Chinese message for its field (`error.errors` lists all of them). The
length limits here are only a safety net far above the services' own."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from erma.admin import catalog_items, staff_accounts, town_aliases
from erma.admin.access import admin_principal
from erma.admin.audit import list_audit
from erma.staff.auth import Principal
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
LOOSE = 400  # far above any limit the services state in Chinese


class AdminBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def sent(self) -> dict:
        """The fields the request carried (a PATCH changes only those)."""
        return self.model_dump(exclude_unset=True)


class ItemUpdateIn(AdminBody):
    item: dict[str, Any] | None = None  # the whole item, validated like the catalog file
    updated_at: str | None = Field(default=None, max_length=64)  # the version read, for the edit conflict check


class StaffProfileIn(AdminBody):
    display_name: str | None = Field(default=None, max_length=LOOSE)
    role: str | None = Field(default=None, max_length=LOOSE)
    towns: list[str] | None = Field(default=None, max_length=LOOSE)
    credential_no: str | None = Field(default=None, max_length=LOOSE)
    mobile: str | None = Field(default=None, max_length=LOOSE)
    intake_point: str | None = Field(default=None, max_length=LOOSE)


class StaffCreateIn(StaffProfileIn):
    username: str | None = Field(default=None, max_length=LOOSE)
    password: str | None = Field(default=None, max_length=LOOSE)


class PasswordIn(AdminBody):
    password: str | None = Field(default=None, max_length=LOOSE)


class AliasChangeIn(AdminBody):
    town_code: str | None = Field(default=None, max_length=LOOSE)
    confirmed: bool | None = None


class AliasIn(AliasChangeIn):
    alias: str | None = Field(default=None, max_length=LOOSE)


@router.get("/services/{code}")
def read_item(code: str, principal: Principal = Depends(admin_principal), session: Session = SESSION) -> dict:
    """The item exactly as stored (the catalog schema), with its version for the update."""
    return catalog_items.item_for_edit(session, principal, code)


@router.put("/services/{code}")
def update_item(code: str, body: ItemUpdateIn, principal: Principal = Depends(admin_principal),
                session: Session = SESSION) -> dict:
    """Body: {"item": {…the whole item…}, "updated_at": "<version read>"} — validated like the file."""
    return catalog_items.update_item(session, principal, code, body.item, body.updated_at)


@router.get("/staff")
def staff_list(role: str | None = None, town: str | None = None, principal: Principal = Depends(admin_principal),
               session: Session = SESSION) -> dict:
    return {"items": staff_accounts.list_staff(session, principal, role=role, town=town),
            "roles": staff_accounts.role_choices(), "intake_points": staff_accounts.intake_point_choices(session)}


@router.post("/staff", status_code=201)
def staff_create(body: StaffCreateIn, principal: Principal = Depends(admin_principal),
                 session: Session = SESSION) -> dict:
    """Body: username, display_name, role, towns [codes], credential_no, mobile, password."""
    return staff_accounts.create_staff(session, principal, body.sent())


@router.patch("/staff/{username}")
def staff_update(username: str, body: StaffProfileIn, principal: Principal = Depends(admin_principal),
                 session: Session = SESSION) -> dict:
    """Any of display_name, role, towns, credential_no, mobile; the others stay."""
    return staff_accounts.update_staff(session, principal, username, body.sent())


@router.post("/staff/{username}/deactivate")
def staff_deactivate(username: str, principal: Principal = Depends(admin_principal),
                     session: Session = SESSION) -> dict:
    return staff_accounts.set_active(session, principal, username, False)


@router.post("/staff/{username}/activate")
def staff_activate(username: str, principal: Principal = Depends(admin_principal),
                   session: Session = SESSION) -> dict:
    return staff_accounts.set_active(session, principal, username, True)


@router.post("/staff/{username}/password")
def staff_password(username: str, body: PasswordIn, principal: Principal = Depends(admin_principal),
                   session: Session = SESSION) -> dict:
    """Body: {"password": "<new password>"}."""
    return staff_accounts.reset_password(session, principal, username, body.password)


@router.get("/towns")
def towns(principal: Principal = Depends(admin_principal), session: Session = SESSION) -> dict:
    return {"items": town_aliases.towns_with_aliases(session, principal)}


@router.post("/town-aliases", status_code=201)
def alias_add(body: AliasIn, principal: Principal = Depends(admin_principal),
              session: Session = SESSION) -> dict:
    """Body: {"alias": "永和乡", "town_code": "513223111", "confirmed": true}."""
    return town_aliases.add_alias(session, principal, body.sent())


@router.patch("/town-aliases/{alias}")
def alias_update(alias: str, body: AliasChangeIn, principal: Principal = Depends(admin_principal),
                 session: Session = SESSION) -> dict:
    return town_aliases.update_alias(session, principal, alias, body.sent())


@router.delete("/town-aliases/{alias}")
def alias_delete(alias: str, principal: Principal = Depends(admin_principal),
                 session: Session = SESSION) -> dict:
    return town_aliases.delete_alias(session, principal, alias)


@router.get("/audit")
def audit(entity: str | None = None, key: str | None = None, limit: int = Query(100, ge=1, le=500),
          principal: Principal = Depends(admin_principal), session: Session = SESSION) -> dict:
    return {"items": list_audit(session, entity=entity, key=key, limit=limit)}
