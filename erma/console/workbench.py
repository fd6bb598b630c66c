"""The agent workbench pages: /staff/cases (my cases, my towns' unassigned cases) and one case
/staff/cases/{case_no} (take it, record submission and result, visits, the 容缺 一表一书; the duty
lead, who opens it from /staff/lead, reassigns it there).

The pages are shells: their scripts ask the JSON API what the case is and what this staff member
may do with it (GET /api/v1/cases/{case_no}/actions), and show the platform's own messages."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from erma.console.pages import fill, gate, page
from erma.permissions import Permission, Role, may
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/staff/cases", include_in_schema=False)


@router.get("")
def workbench_page(request: Request, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.WORKBENCH)
    if refused is not None:
        return refused
    body = fill("workbench.html", carries_cases="true" if may(principal.role, Permission.TAKE_CASE) else "false")
    return page("办件工作台", body, principal=principal, request=request,
                scripts=("console.js", "workbench.js"), body_class="workbench-page")


@router.get("/{case_no}")
def case_page(case_no: str, request: Request, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.WORKBENCH)
    if refused is not None:
        return refused
    case_no = case_no.strip().upper()[:24]
    # The duty lead opens cases from the 督办 lists and goes back there, not to a workbench of their own.
    back_href, back_text = ("/staff/lead", "‹ 督办") if principal.role == Role.DUTY_LEAD else ("/staff/cases", "‹ 办件工作台")
    body = fill("workbench_case.html", case_no=case_no, back_href=back_href, back_text=back_text)
    return page(f"办件 {case_no}", body, principal=principal, request=request,
                scripts=("console.js", "workbench_case.js"), body_class="workbench-page case-page")
