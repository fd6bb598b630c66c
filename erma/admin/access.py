"""Only county admins change the county's data."""
from __future__ import annotations

from erma.errors import Forbidden, ValidationFailed
from erma.staff.auth import Principal


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise Forbidden("role_forbidden", "只有县级管理员可以修改事项目录、人员和地名")


def refuse(problems: list[tuple[str, str]], code: str) -> None:
    """Every problem of a form at once: the first as the error, all of them in `errors`."""
    if problems:
        field, message = problems[0]
        raise ValidationFailed(code, message, field=field,
                               errors=[{"code": code, "field": f, "message": m} for f, m in problems])
