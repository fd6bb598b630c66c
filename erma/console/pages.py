"""What every staff page shares: templates filled with escaped values, the signed-in staff member
(or a redirect to the sign-in page that comes back afterwards), security headers, static files."""
from __future__ import annotations

import html
import mimetypes
from functools import lru_cache
from pathlib import Path
from string import Template
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from erma.errors import NotFound
from erma.permissions import ROLE_TEXT, Permission, Role, may
from erma.staff.auth import SESSION_COOKIE, Principal, csrf_token_for, staff_from_cookie

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LOGIN_PATH = "/staff/login"
# The pages each role works in, in its own order and words (each page's gate asks erma/permissions.py;
# tests/platform/test_permissions.py checks that every link here is a page the role may open).
NAV = {
    Role.TOWN_REVIEWER: (("审核队列", "/staff/review"),),
    Role.COUNTER_CLERK: (("窗口接件", "/staff/intake"),),
    Role.AGENT: (("人工会话", "/staff/inbox"), ("我的办件", "/staff/cases")),
    Role.DUTY_LEAD: (("督办", "/staff/lead"), ("统计", "/staff/dashboard"), ("人工会话", "/staff/inbox"),
                     ("办件", "/staff/cases")),
    Role.ADMIN: (("管理", "/staff/admin"), ("统计", "/staff/dashboard"), ("督办", "/staff/lead"),
                 ("审核", "/staff/review"), ("办件", "/staff/cases"), ("人工会话", "/staff/inbox")),
}


def nav_for(role: str, current_path: str) -> str:
    links = []
    for label, href in NAV.get(role, ()):
        here = current_path == href or current_path.startswith(href + "/")
        current = ' aria-current="page"' if here else ""
        links.append(f'<a href="{href}"{current}>{html.escape(label)}</a>')
    return f'<nav class="staff-nav" aria-label="工作台导航">{"".join(links)}</nav>' if len(links) > 1 else ""

# Scripts and styles come only from our own files: no inline code, no CDN, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@lru_cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def fill(template_name: str, /, *, raw: dict[str, str] | None = None, **values: object) -> str:
    """The template with every value HTML-escaped; `raw` holds fragments already built from escaped parts."""
    return _template(template_name).substitute({**{k: html.escape(str(v)) for k, v in values.items()}, **(raw or {})})


def page(title: str, body: str, *, principal: Principal | None = None, request: Request | None = None,
         scripts: tuple[str, ...] = (), status_code: int = 200, body_class: str = "") -> HTMLResponse:
    """A whole page: the shared layout, the staff bar (name, role, sign-out) when signed in."""
    bar = ""
    if principal is not None and principal.staff is not None:
        staff = principal.staff
        token = request.cookies.get(SESSION_COOKIE, "") if request is not None else ""
        credential = f"（{staff.credential_no}）" if staff.credential_no else ""
        bar = fill("staff_bar.html", name=staff.display_name + credential,
                   role=ROLE_TEXT.get(principal.role, principal.role), csrf=csrf_token_for(token) if token else "",
                   raw={"nav": nav_for(principal.role, request.url.path if request is not None else "")})
    tags = "".join(f'<script src="/staff/static/{html.escape(s)}" defer></script>' for s in scripts)
    content = fill("layout.html", title=title, body_class=body_class, raw={"staff_bar": bar, "body": body,
                                                                         "scripts": tags})
    return HTMLResponse(content, status_code=status_code, headers=SECURITY_HEADERS)


def signed_in(request: Request, session: Session) -> Principal | None:
    return staff_from_cookie(request, session)


def login_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, carrying where to come back to (this very page, with its query)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(here, safe='')}", status_code=303, headers=SECURITY_HEADERS)


def gate(request: Request, session: Session, permission: Permission) -> tuple[Principal | None, Response | None]:
    """Every staff page's entry check: (the signed-in principal whose role holds `permission`, None),
    or (None, the response to send instead: the sign-in redirect or the no-permission page)."""
    principal = signed_in(request, session)
    if principal is None:
        return None, login_redirect(request)
    if not may(principal.role, permission):
        return None, forbidden_page(principal, request)
    return principal, None


def forbidden_page(principal: Principal, request: Request) -> HTMLResponse:
    body = fill("denied.html", role=ROLE_TEXT.get(principal.role, principal.role))
    return page("没有权限", body, principal=principal, request=request, status_code=403)


def static_file(name: str) -> Response:
    """One of our own static files; anything else (or a path outside the folder) is not found."""
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file():
        raise NotFound("not_found", "没有这个文件")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return FileResponse(path, media_type=media_type,
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
