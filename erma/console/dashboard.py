"""The county dashboard page (/staff/dashboard) for duty leads and admins: per town and per item —
cases by stage, age, on-time completion, visits (最多跑一次), 容缺 and on-time supplements, ratings,
handoffs — as bar charts drawn with inline SVG, with the numbers written beside every bar.

The page holds no figure of its own: its script shows what GET /api/v1/dashboard computes
(erma/dashboard/metrics.py holds every definition) and links the CSV export of the same filters."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from erma.console.pages import fill, gate, page
from erma.permissions import Permission
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/staff/dashboard", include_in_schema=False)


@router.get("")
def dashboard_page(request: Request, session: Session = SESSION) -> Response:
    # The API also answers town reviewers and agents (their own towns); the page is the county's view.
    principal, refused = gate(request, session, Permission.DASHBOARD_PAGE)
    if refused is not None:
        return refused
    return page("统计看板", fill("dashboard.html"), principal=principal, request=request,
                scripts=("console.js", "dashboard.js"), body_class="dashboard-page")
