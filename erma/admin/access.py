"""Only county admins change the county's data."""
from __future__ import annotations

from fastapi import Depends

from erma.errors import Forbidden, ValidationFailed
from erma.permissions import Permission, may
from erma.staff.auth import Principal, get_principal


def require_admin(principal: Principal) -> None:
    if not may(principal.role, Permission.MANAGE_COUNTY):
        raise Forbidden("role_forbidden", "只有县级管理员可以修改事项目录、人员和地名")


def admin_principal(principal: Principal = Depends(get_principal)) -> Principal:
    """The admin routes' dependency: only a county admin gets past it, before the body is even read
    (so a non-admin is told 403 whatever they sent)."""
    require_admin(principal)
    return principal


def refuse(problems: list[tuple[str, str]], code: str) -> None:
    """Every problem of a form at once: the first as the error, all of them in `errors`."""
    if problems:
        field, message = problems[0]
        raise ValidationFailed(code, message, field=field,
                               errors=[{"code": code, "field": f, "message": m} for f, m in problems])
