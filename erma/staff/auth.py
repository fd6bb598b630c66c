"""Who is calling: the assistant's service token, or a signed-in staff member with a role and towns.

Two ways to carry a staff token: `Authorization: Bearer` (the actions, channels, API clients) or the
HttpOnly session cookie set by the sign-in page (staff web pages). A browser sends the cookie on its
own, even on a request another site started, so a cookie-authenticated POST/PUT/PATCH/DELETE must
also carry `X-CSRF-Token`: an HMAC of the session token that page scripts read from the readable
`erma_csrf` cookie (another site can neither read it nor compute it). A bearer token is never sent
by the browser on its own, so it needs no such check."""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.db import get_session
from erma.errors import Forbidden, Unauthorized
from erma.settings import get_settings
from erma.staff.models import Staff

TOKEN_MAX_AGE_SECONDS = 12 * 3600
SESSION_COOKIE = "erma_session"
CSRF_COOKIE = "erma_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that goes with a session cookie: nothing to store, nothing another site can derive."""
    key = get_settings().erma_secret_key.encode()
    return hmac.new(key, b"erma-csrf:" + session_token.encode(), "sha256").hexdigest()


def csrf_ok(session_token: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token_for(session_token).encode(), sent.encode())


def staff_from_cookie(request: Request, session: Session) -> Principal | None:
    """The signed-in staff member of a web page, or None (no cookie, expired, or not a staff token)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = principal_from_token(session, token)
    except Unauthorized:
        return None
    return principal if principal.staff is not None else None


def set_session_cookies(response: Response, staff: Staff, *, secure: bool) -> str:
    """Signs the staff member in on this browser; returns the session token."""
    token = issue_token(staff)
    response.set_cookie(SESSION_COOKIE, token, max_age=TOKEN_MAX_AGE_SECONDS, path="/", httponly=True,
                        samesite="lax", secure=secure)
    # Readable by the page's own scripts (they echo it in X-CSRF-Token); useless without the session.
    response.set_cookie(CSRF_COOKIE, csrf_token_for(token), max_age=TOKEN_MAX_AGE_SECONDS, path="/",
                        httponly=False, samesite="lax", secure=secure)
    return token


def clear_session_cookies(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/")


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path on this site (no scheme, host or `//`), else `default`."""
    target = (target or "").strip()
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in target)):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def get_principal(request: Request, session: Session = Depends(get_session)) -> Principal:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("not_authenticated", "请先登录")
        return principal_from_token(session, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized("not_authenticated", "请先登录")
    principal = principal_from_token(session, cookie)
    if principal.staff is None:  # the service token belongs in a header, never in a browser
        raise Unauthorized("token_invalid", "身份凭证无效，请重新登录")
    if request.method not in SAFE_METHODS and not csrf_ok(cookie, request.headers.get(CSRF_HEADER)):
        raise Forbidden("csrf_failed", "页面已过期或请求来源不明，请刷新页面后再试")
    return principal


def require_roles(*roles: str):
    def dependency(principal: Principal = Depends(get_principal)) -> Principal:
        if principal.role not in roles:
            raise Forbidden("role_forbidden", "您的账号没有这项操作的权限")
        return principal

    return dependency
