"""Recording messages for residents and staff (delivered by the channel gateway / consoles)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.notices.models import Notice


def notify_resident(session: Session, case: Case, kind: str, text: str) -> Notice:
    notice = Notice(case_id=case.id, audience="resident", kind=kind, text=f"【{case.case_no}】{text}")
    session.add(notice)
    return notice


def notify_staff(session: Session, staff_id: int | None, case: Case | None, kind: str, text: str) -> Notice:
    notice = Notice(case_id=case.id if case else None, audience="staff", staff_id=staff_id, kind=kind, text=text)
    session.add(notice)
    return notice
