"""Staff web pages: sign-in / sign-out, a landing page, and the agents' inbox.

The pages hold no rule of their own: the inbox page's script calls the JSON API with the session
cookie (and the CSRF header), and shows the platform's own messages."""
from __future__ import annotations

import hmac
import html
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from erma.console.pages import SECURITY_HEADERS, fill, gate, login_redirect, page, signed_in, static_file
from erma.unit_of_work import SESSION
from erma.errors import TooManyRequests, Unauthorized
from erma.permissions import ROLE_TEXT, Permission, Role, may
from erma.staff.auth import (SESSION_COOKIE, clear_session_cookies, client_address, csrf_ok, safe_next,
                             set_session_cookies, sign_in)
from erma.staff.sessions import end_session

router = APIRouter(prefix="/staff", include_in_schema=False)

# Guards the sign-in form itself (login CSRF): the form carries the value of this short-lived cookie.
LOGIN_CSRF_COOKIE = "erma_login_csrf"
LOGIN_CSRF_MAX_AGE = 3600


HOMES = {
    Role.DUTY_LEAD: "/staff/lead",  # overdue 容缺, 差评 follow-ups, overdue cases (erma/console/lead.py)
    Role.ADMIN: "/staff/admin",  # catalog, staff, aliases (erma/console/admin.py); the nav bar has the rest
    Role.TOWN_REVIEWER: "/staff/review",  # the town's review queue (erma/console/review.py)
    Role.COUNTER_CLERK: "/staff/intake",  # registering walk-in residents at their counter (erma/console/intake.py)
}


def home_for(role: str) -> str:
    if role in HOMES:
        return HOMES[role]
    return "/staff/inbox" if may(role, Permission.CONVERSATIONS_STAFF) else "/staff/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_form(request: Request, *, next_path: str, username: str = "", message: str = "", notice: str = "",
                status_code: int = 200) -> HTMLResponse:
    login_csrf = secrets.token_urlsafe(24)
    body = fill("login.html", next=next_path, username=username, csrf=login_csrf,
                raw={"message": f'<p class="error" role="alert" id="login-error">{html.escape(message)}</p>' if message else "",
                     "notice": f'<p class="notice" role="status">{html.escape(notice)}</p>' if notice else ""})
    response = page("工作人员登录", body, status_code=status_code, body_class="login-page")
    response.set_cookie(LOGIN_CSRF_COOKIE, login_csrf, max_age=LOGIN_CSRF_MAX_AGE, path="/staff/login",
                        httponly=True, samesite="lax", secure=_secure(request))
    return response


@router.get("/login")
def login_page(request: Request, next: str | None = None, out: int = 0,
               session: Session = SESSION) -> Response:
    principal = signed_in(request, session)
    if principal is not None and not out:
        return RedirectResponse(safe_next(next, home_for(principal.role)), status_code=303, headers=SECURITY_HEADERS)
    return _login_form(request, next_path=safe_next(next, ""), notice="您已退出登录" if out else "")


@router.post("/login")
def login_submit(request: Request, username: str = Form(default=""), password: str = Form(default=""),
                 next: str = Form(default=""), csrf: str = Form(default=""),
                 session: Session = SESSION) -> Response:
    username = username.strip()[:64]
    next_path = safe_next(next, "")
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf.encode()):
        return _login_form(request, next_path=next_path, username=username, status_code=403,
                           message="登录页面已过期，请再输入一次密码登录")
    if not username or not password:
        return _login_form(request, next_path=next_path, username=username, status_code=422,
                           message="请填写用户名和密码")
    try:
        staff, token = sign_in(session, username, password, client_address(request))
    except (Unauthorized, TooManyRequests) as exc:  # wrong password, or too many failures: wait
        return _login_form(request, next_path=next_path, username=username, status_code=exc.status_code,
                           message=exc.message)
    response = RedirectResponse(safe_next(next_path, home_for(staff.role)), status_code=303, headers=SECURITY_HEADERS)
    set_session_cookies(response, token, secure=_secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/staff/login")
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(default=""), session: Session = SESSION) -> Response:
    """Signs this browser out and ends its session on the server (the cookie opens nothing afterwards,
    even if kept). With a live session the form must carry its CSRF token (another site cannot sign a
    staff member out); an expired or ended session is simply cleared."""
    token = request.cookies.get(SESSION_COOKIE, "")
    principal = signed_in(request, session)
    if principal is not None:
        if not csrf_ok(token, csrf):
            return page("无法退出", fill("message.html", message="页面已过期，请刷新页面后再点“退出”"), status_code=403)
        end_session(session, principal.session_id)
    response = RedirectResponse("/staff/login?out=1", status_code=303, headers=SECURITY_HEADERS)
    clear_session_cookies(response)
    return response


@router.get("/")
def staff_home(request: Request, session: Session = SESSION) -> Response:
    principal = signed_in(request, session)
    if principal is None:
        return login_redirect(request)
    if home_for(principal.role) != "/staff/":
        return RedirectResponse(home_for(principal.role), status_code=303, headers=SECURITY_HEADERS)
    body = fill("message.html", message=f"您好，{principal.staff.display_name}（{ROLE_TEXT.get(principal.role, '')}）。"
                                        "您的工作页面还在建设中，请先通过原有方式办理。")
    return page("工作台", body, principal=principal, request=request)


@router.get("/inbox")
def inbox_page(request: Request, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.CONVERSATIONS_STAFF)
    if refused is not None:
        return refused
    staff = principal.staff
    reads = may(principal.role, Permission.READ_ANY_CONVERSATION) or may(principal.role,
                                                                          Permission.READ_TOWN_CONVERSATIONS)
    body = fill("inbox.html", staff_id=staff.id, county_wide="true" if principal.county_wide else "false",
                reads_transcripts="true" if reads else "false")
    return page("转人工会话", body, principal=principal, request=request, scripts=("console.js", "inbox.js"),
                body_class="inbox-page")


@router.get("/static/{name}")
def static(name: str) -> Response:
    return static_file(name)
