"""Who is calling: the assistant's service token, or a signed-in staff member with a role and towns.

Two ways to carry a staff token: `Authorization: Bearer` (the actions, channels, API clients) or the
HttpOnly session cookie set by the sign-in page (staff web pages). A browser sends the cookie on its
own, even on a request another site started, so a cookie-authenticated POST/PUT/PATCH/DELETE must
also carry `X-CSRF-Token`: an HMAC of the session token that page scripts read from the readable
`erma_csrf` cookie (another site can neither read it nor compute it). A bearer token is never sent
by the browser on its own, so it needs no such check.

Either way the token names a server-side session (erma/staff/sessions.py) that sign-out and account
changes revoke; sign-in attempts are throttled (erma/staff/sign_in_throttle.py)."""
from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.db import as_utc, utcnow
from erma.unit_of_work import SESSION, keep_on_refusal
from erma.errors import Forbidden, Unauthorized
from erma.permissions import Permission, Role, may
from erma.settings import get_settings
from erma.staff import sign_in_throttle
from erma.staff.models import Staff
from erma.staff.sessions import SESSION_SECONDS, find_session, open_session

TOKEN_MAX_AGE_SECONDS = SESSION_SECONDS
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


@lru_cache
def _unknown_user_hash() -> str:
    return _hasher.hash("no-such-account")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().erma_secret_key, salt="erma-staff-token")


def issue_token(staff: Staff, session_key: str = "") -> str:
    """The signed token of one session of `staff` (erma.staff.sessions); without a live session key it opens nothing."""
    return _serializer().dumps({"sid": staff.id, "key": session_key})


@dataclass(frozen=True)
class Principal:
    role: str  # a Role value (erma/permissions.py): service, or the staff account's role
    staff: Staff | None = None
    towns: frozenset[str] = field(default_factory=frozenset)
    session_id: int | None = None  # the staff session the request came with (None for the service token)
    # The counter the staff member works at (Staff.intake_point_code): where their walk-ins are registered.
    intake_point: str | None = None

    @property
    def actor(self) -> str:
        return f"staff:{self.staff.username}" if self.staff else self.role

    @property
    def county_wide(self) -> bool:
        return may(self.role, Permission.ALL_TOWNS)

    def can_see_town(self, town_code: str) -> bool:
        return self.county_wide or town_code in self.towns

    def can_see_case(self, town_code: str, intake_point_code: str | None) -> bool:
        """A case of a town they work for or, for a counter clerk, one opened at their own intake point
        (whatever the household town: clerks see no town's queue, only what they registered there)."""
        if self.can_see_town(town_code):
            return True
        return (self.role == Role.COUNTER_CLERK and self.intake_point is not None
                and intake_point_code == self.intake_point)


# The platform itself, as it acts without anyone asking (routing a new case, scheduled jobs).
SYSTEM = Principal(role=Role.SYSTEM)


def authenticate(session: Session, username: str, password: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == username, Staff.active.is_(True)))
    if staff is None:
        verify_password(_unknown_user_hash(), password)  # same time taken: the answer says nothing about the account
        raise Unauthorized("bad_credentials", "用户名或密码不对")
    if not verify_password(staff.password_hash, password):
        raise Unauthorized("bad_credentials", "用户名或密码不对")
    return staff


def client_address(request: Request) -> str:
    """The caller's address as uvicorn sees it (behind a trusted proxy: from X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


def sign_in(session: Session, username: str, password: str, client: str,
            now: dt.datetime | None = None) -> tuple[Staff, str]:
    """Checks the throttle, then the password, and opens a session; returns the account and its token.
    A failure is counted even though the caller answers with an error: the failure is the only thing
    written, and `keep_on_refusal` has the unit of work commit it when the refusal ends the request."""
    now = now or utcnow()
    sign_in_throttle.refuse_if_locked(session, username, client, now)
    try:
        staff = authenticate(session, username, password)
    except Unauthorized:
        sign_in_throttle.record_failure(session, username, client, now)
        keep_on_refusal(session)
        # The failure that reaches the limit already says how long to wait.
        sign_in_throttle.refuse_if_locked(session, username, client, now)
        raise
    sign_in_throttle.clear_username(session, username, client)
    key = open_session(session, staff, now)
    session.flush()
    return staff, issue_token(staff, key)


def principal_from_token(session: Session, token: str) -> Principal:
    if hmac.compare_digest(token.encode(), get_settings().erma_service_token.encode()):
        return Principal(role=Role.SERVICE)
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
    except SignatureExpired:
        raise Unauthorized("token_expired", "登录已过期，请重新登录") from None
    except BadSignature:
        raise Unauthorized("token_invalid", "身份凭证无效，请重新登录") from None
    key = data.get("key") if isinstance(data, dict) else None
    found = find_session(session, key) if isinstance(key, str) and key else None
    if found is None or found[0].staff_id != data.get("sid"):
        raise Unauthorized("token_invalid", "身份凭证无效，请重新登录")
    record, staff = found
    if record.revoked_at is not None:
        raise Unauthorized("session_ended", "登录已失效（已退出登录，或账号有变动），请重新登录")
    if as_utc(record.expires_at) <= utcnow():
        raise Unauthorized("token_expired", "登录已过期，请重新登录")
    if not staff.active:
        raise Unauthorized("token_invalid", "身份凭证无效，请重新登录")
    # A counter clerk serves residents of every town at one point, and works for no town's queue.
    towns = frozenset() if staff.role == Role.COUNTER_CLERK else frozenset(staff.town_codes or [])
    return Principal(role=staff.role, staff=staff, towns=towns, session_id=record.id,
                     intake_point=staff.intake_point_code)


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


def set_session_cookies(response: Response, token: str, *, secure: bool) -> None:
    """Signs the staff member in on this browser with the token of a session opened by `sign_in`."""
    response.set_cookie(SESSION_COOKIE, token, max_age=TOKEN_MAX_AGE_SECONDS, path="/", httponly=True,
                        samesite="lax", secure=secure)
    # Readable by the page's own scripts (they echo it in X-CSRF-Token); useless without the session.
    response.set_cookie(CSRF_COOKIE, csrf_token_for(token), max_age=TOKEN_MAX_AGE_SECONDS, path="/",
                        httponly=False, samesite="lax", secure=secure)


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


def get_principal(request: Request, session: Session = SESSION) -> Principal:
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


def optional_principal(request: Request, session: Session = SESSION) -> Principal | None:
    """For public routes that answer bearer callers differently: None without an Authorization header
    (a browser's session cookie does not count); a bad token is refused as on any other route."""
    if not request.headers.get("authorization", ""):
        return None
    return get_principal(request, session)


def require(*permissions: Permission):
    """A route's dependency: the caller, if their role holds one of `permissions` (erma/permissions.py),
    else 403. Async: it only compares roles, so it costs the request no trip to the threadpool."""
    async def dependency(principal: Principal = Depends(get_principal)) -> Principal:
        if not any(may(principal.role, permission) for permission in permissions):
            raise Forbidden("role_forbidden", "您的账号没有这项操作的权限")
        return principal

    return dependency
