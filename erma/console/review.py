"""The town reviewer's pages: the town's review queue and one case with its decision form.

The pages only check who may open them and which towns they may pick; the queue, the case, the
materials checklist and every decision come from the JSON API (static/review.js), whose Chinese
messages the page shows as they come. Another town's case gives the API's own 404, as a page."""
from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from erma.cases.lifecycle import get_case
from erma.console.pages import fill, gate, page
from erma.unit_of_work import SESSION
from erma.errors import NotFound
from erma.permissions import Permission
from erma.places import listing
from erma.places.models import Town
from erma.staff.auth import Principal

router = APIRouter(prefix="/staff/review", include_in_schema=False)

SCRIPTS = ("console.js", "review.js")


def _towns(session: Session, principal: Principal) -> list[Town]:
    """The towns whose queue this person may open, in code order (all of them for county-wide roles)."""
    return listing.towns(session, None if principal.county_wide else principal.towns)


def _town_picker(towns: list[Town], chosen: Town) -> str:
    """A plain GET form, so picking a town works even before the page script has loaded."""
    if len(towns) < 2:
        return ""
    options = "".join(f'<option value="{html.escape(t.code)}"{" selected" if t.code == chosen.code else ""}>'
                      f"{html.escape(t.name)}</option>" for t in towns)
    return ('<form class="town-picker" method="get" action="/staff/review">'
            '<label for="town">审核的镇</label>'
            f'<div class="row"><select id="town" name="town">{options}</select>'
            '<button type="submit" id="town-go">查看</button></div></form>')


def _message(title: str, message: str, principal: Principal, request: Request, status_code: int) -> Response:
    return page(title, fill("message.html", message=message), principal=principal, request=request,
                status_code=status_code)


@router.get("")
def queue_page(request: Request, town: str | None = None, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.DECIDE_REVIEW)
    if refused is not None:
        return refused
    towns = _towns(session, principal)
    if not towns:
        return _message("审核队列", "您的账号还没有分配负责审核的镇，请联系县级管理员。", principal, request, 200)
    chosen = next((t for t in towns if t.code == town), None) if town else towns[0]
    if chosen is None:  # the same answer the queue API gives for another town
        return _message("没有权限", "您只能查看本镇的审核队列", principal, request, 403)
    body = fill("review_queue.html", town_code=chosen.code, town_name=chosen.name,
                raw={"town_picker": _town_picker(towns, chosen)})
    return page(f"{chosen.name}审核队列", body, principal=principal, request=request, scripts=SCRIPTS,
                body_class="review-page")


@router.get("/cases/{case_no}")
def case_page(case_no: str, request: Request, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.DECIDE_REVIEW)
    if refused is not None:
        return refused
    try:
        case = get_case(session, case_no, principal)
    except NotFound as exc:  # unknown, or another town's: nothing of the case on this page
        return _message("没有找到办件", f"{exc.message}。请核对办件编号；这里只能打开您所在镇审核的办件。",
                        principal, request, exc.status_code)
    body = fill("review_case.html", case_no=case.case_no, town_code=case.hukou_town_code)
    return page(f"审核 {case.case_no}", body, principal=principal, request=request, scripts=SCRIPTS,
                body_class="review-page")
