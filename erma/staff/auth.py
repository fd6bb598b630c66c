"""Who is calling: the assistant's service token, or a signed-in staff member with a role and towns."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Depends, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.db import get_session
from erma.errors import Forbidden, Unauthorized
from erma.settings import get_settings
from erma.staff.models import Staff

TOKEN_MAX_AGE_SECONDS = 12 * 3600
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().erma_secret_key, salt="erma-staff-token")


def issue_token(staff: Staff) -> str:
    return _serializer().dumps({"sid": staff.id})


@dataclass(frozen=True)
class Principal:
    role: str  # service | town_reviewer | agent | duty_lead | admin
    staff: Staff | None = None
    towns: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return f"staff:{self.staff.username}" if self.staff else self.role

    @property
    def county_wide(self) -> bool:
        return self.role in ("service", "duty_lead", "admin")

    def can_see_town(self, town_code: str) -> bool:
        return self.county_wide or town_code in self.towns


def authenticate(session: Session, username: str, password: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == username, Staff.active.is_(True)))
    if staff is None or not verify_password(staff.password_hash, password):
        raise Unauthorized("bad_credentials", "用户名或密码不对")
    return staff


def principal_from_token(session: Session, token: str) -> Principal:
    if hmac.compare_digest(token.encode(), get_settings().erma_service_token.encode()):
        return Principal(role="service")
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
    except SignatureExpired:
        raise Unauthorized("token_expired", "登录已过期，请重新登录") from None
    except BadSignature:
        raise Unauthorized("token_invalid", "身份凭证无效，请重新登录") from None
    staff = session.get(Staff, data.get("sid"))
    if staff is None or not staff.active:
        raise Unauthorized("token_invalid", "身份凭证无效，请重新登录")
    return Principal(role=staff.role, staff=staff, towns=frozenset(staff.town_codes or []))


def get_principal(request: Request, session: Session = Depends(get_session)) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("not_authenticated", "请先登录")
    return principal_from_token(session, token.strip())


def require_roles(*roles: str):
    def dependency(principal: Principal = Depends(get_principal)) -> Principal:
        if principal.role not in roles:
            raise Forbidden("role_forbidden", "您的账号没有这项操作的权限")
        return principal

    return dependency
