"""Recording notices for residents and staff (erma/pushes/models.Notice).

A resident notice is delivered by the pushes: `erma.pushes.service.notify_resident` records it and
puts its delivery on the outbox in the caller's transaction. Staff notices show in the consoles.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.pushes.models import Notice


def resident_notice(session: Session, case: Case, kind: str, text: str) -> Notice:
    """The record alone (for a caller that delivers it itself)."""
    notice = Notice(case_id=case.id, audience="resident", kind=kind, text=f"【{case.case_no}】{text}")
    session.add(notice)
    session.flush()
    return notice


def notify_staff(session: Session, staff_id: int | None, case: Case | None, kind: str, text: str) -> Notice:
    notice = Notice(case_id=case.id if case else None, audience="staff", staff_id=staff_id, kind=kind, text=text)
    session.add(notice)
    return notice
