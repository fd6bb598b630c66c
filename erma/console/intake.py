"""Counter intake: /staff/intake, where a staff member at a village service station, a town centre or
a county window registers a walk-in resident and prints the receipt.

The page is a shell, like the other consoles: its script (static/intake.js) searches items, checks
each field and opens the case through the same JSON API every other intake line uses (POST
/api/v1/cases with channel `counter`), and shows the platform's own Chinese messages. The page only
checks who may open it and names the counter it works for (the staff member's intake point)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from erma.console.pages import fill, gate, page
from erma.unit_of_work import SESSION
from erma.errors import ValidationFailed
from erma.permissions import Permission
from erma.places.service import get_intake_point

router = APIRouter(prefix="/staff/intake", include_in_schema=False)

KIND_TEXT = {"county_window": "县城代办点窗口", "town_centre": "镇便民服务中心", "village_point": "村便民服务站"}


@router.get("")
def intake_page(request: Request, session: Session = SESSION) -> Response:
    # Counter clerks; agents who also take walk-ins at their window (an account with an intake point);
    # admins set up with an intake point (e.g. to try the page).
    principal, refused = gate(request, session, Permission.OPEN_CASE)
    if refused is not None:
        return refused
    try:
        point = get_intake_point(session, principal.intake_point) if principal.intake_point else None
    except ValidationFailed:  # the account names a point that is no longer in the county's list
        point = None
    if point is None or point.kind == "online":
        body = fill("message.html", message="您的账号还没有设置接件点（村便民服务站、镇便民服务中心或县城代办点窗口），"
                                            "不能登记窗口接件。请联系县级管理员在“人员”里设置。")
        return page("窗口接件", body, principal=principal, request=request)
    body = fill("intake.html", point_code=point.code, point_name=point.name, username=principal.staff.username,
                point_kind=KIND_TEXT.get(point.kind, ""))
    return page("窗口接件", body, principal=principal, request=request, scripts=("console.js", "intake.js"),
                body_class="intake-page")
