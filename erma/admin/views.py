"""HTTP for county admins: catalog items, staff and agents, towns' aliases, the audit trail.

Bodies are taken as plain JSON objects so that every wrong value reaches the platform's own checks
and comes back as a Chinese message for its field (`error.errors` lists all of them)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy.orm import Session

from erma.admin import catalog_items, staff_accounts, town_aliases
from erma.admin.access import refuse, require_admin
from erma.admin.audit import list_audit
from erma.db import get_session
from erma.staff.auth import Principal, get_principal

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


def _object(body: Any) -> dict:
    if not isinstance(body, dict):
        refuse([("body", "请求内容应为一组 字段: 值")], "body_invalid")
    return body


@router.get("/services/{code}")
def read_item(code: str, principal: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    """The item exactly as stored (the catalog schema), with its version for the update."""
    return catalog_items.item_for_edit(session, principal, code)


@router.put("/services/{code}")
def update_item(code: str, body: Any = Body(...), principal: Principal = Depends(get_principal),
                session: Session = Depends(get_session)) -> dict:
    """Body: {"item": {…the whole item…}, "updated_at": "<version read>"} — validated like the file."""
    body = _object(body)
    return catalog_items.update_item(session, principal, code, body.get("item"), body.get("updated_at"))


@router.get("/staff")
def staff_list(role: str | None = None, town: str | None = None, principal: Principal = Depends(get_principal),
               session: Session = Depends(get_session)) -> dict:
    return {"items": staff_accounts.list_staff(session, principal, role=role, town=town),
            "roles": staff_accounts.role_choices(), "intake_points": staff_accounts.intake_point_choices(session)}


@router.post("/staff", status_code=201)
def staff_create(body: Any = Body(...), principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    """Body: username, display_name, role, towns [codes], credential_no, mobile, password."""
    return staff_accounts.create_staff(session, principal, _object(body))


@router.patch("/staff/{username}")
def staff_update(username: str, body: Any = Body(...), principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    """Any of display_name, role, towns, credential_no, mobile; the others stay."""
    return staff_accounts.update_staff(session, principal, username, _object(body))


@router.post("/staff/{username}/deactivate")
def staff_deactivate(username: str, principal: Principal = Depends(get_principal),
                     session: Session = Depends(get_session)) -> dict:
    return staff_accounts.set_active(session, principal, username, False)


@router.post("/staff/{username}/activate")
def staff_activate(username: str, principal: Principal = Depends(get_principal),
                   session: Session = Depends(get_session)) -> dict:
    return staff_accounts.set_active(session, principal, username, True)


@router.post("/staff/{username}/password")
def staff_password(username: str, body: Any = Body(...), principal: Principal = Depends(get_principal),
                   session: Session = Depends(get_session)) -> dict:
    """Body: {"password": "<new password>"}."""
    return staff_accounts.reset_password(session, principal, username, _object(body).get("password"))


@router.get("/towns")
def towns(principal: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    return {"items": town_aliases.towns_with_aliases(session, principal)}


@router.post("/town-aliases", status_code=201)
def alias_add(body: Any = Body(...), principal: Principal = Depends(get_principal),
              session: Session = Depends(get_session)) -> dict:
    """Body: {"alias": "永和乡", "town_code": "513223111", "confirmed": true}."""
    return town_aliases.add_alias(session, principal, _object(body))


@router.patch("/town-aliases/{alias}")
def alias_update(alias: str, body: Any = Body(...), principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    return town_aliases.update_alias(session, principal, alias, _object(body))


@router.delete("/town-aliases/{alias}")
def alias_delete(alias: str, principal: Principal = Depends(get_principal),
                 session: Session = Depends(get_session)) -> dict:
    return town_aliases.delete_alias(session, principal, alias)


@router.get("/audit")
def audit(entity: str | None = None, key: str | None = None, limit: int = Query(100, ge=1, le=500),
          principal: Principal = Depends(get_principal), session: Session = Depends(get_session)) -> dict:
    require_admin(principal)
    return {"items": list_audit(session, entity=entity, key=key, limit=limit)}
