"""The duty lead's page (/staff/lead): overdue 容缺 deadlines, 差评 follow-ups due, cases past their
promised date, and recording a follow-up (回访) with its outcome.

The page holds no rule: its script shows the lists the platform computes (/api/v1/lead/…) and
records outcomes through /api/v1/followup-tasks/{id}/complete, showing the platform's messages."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from erma.console.pages import fill, gate, page
from erma.unit_of_work import SESSION
from erma.permissions import Permission

router = APIRouter(prefix="/staff/lead", include_in_schema=False)


@router.get("")
def lead_page(request: Request, session: Session = SESSION) -> Response:
    principal, refused = gate(request, session, Permission.LEAD_LISTS)
    if refused is not None:
        return refused
    return page("督办与回访", fill("lead.html"), principal=principal, request=request,
                scripts=("console.js", "lead.js"), body_class="lead-page")
