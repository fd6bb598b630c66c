"""The county admin's page (/staff/admin): catalog items, staff and agents, towns' aliases, and the
audit trail. Its script calls /api/v1/admin/… and shows the platform's messages next to the fields;
every check (the catalog schema included) is the platform's."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from erma.console.pages import fill, gate, page
from erma.permissions import Permission
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/staff/admin", include_in_schema=False)


@router.get("")
def admin_page(request: Request, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.MANAGE_COUNTY)
    if refused is not None:
        return refused
    return page("县级管理", fill("admin.html", me=principal.staff.username), principal=principal, request=request,
                scripts=("console.js", "admin.js"), body_class="admin-page")
