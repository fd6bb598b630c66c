"""Recording messages for residents and staff.

A resident notice is delivered by the pushes (erma/pushes): `notify_resident` puts its delivery on
the outbox in the caller's transaction, so a change that rolls back pushes nothing, and `push_key`
(the cause: a stage change, a reminder) makes it once-only. Staff notices show in the consoles.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.notices.models import Notice


def resident_notice(session: Session, case: Case, kind: str, text: str) -> Notice:
    """The record alone (for a caller that delivers it itself)."""
    notice = Notice(case_id=case.id, audience="resident", kind=kind, text=f"【{case.case_no}】{text}")
    session.add(notice)
    session.flush()
    return notice


def notify_resident(session: Session, case: Case, kind: str, text: str, *, push_key: str | None = None,
                    now: dt.datetime | None = None) -> Notice:
    from erma.pushes.service import earlier_push_notice, queue_notice  # pushes are built on notices

    if push_key is not None:
        earlier = earlier_push_notice(session, push_key)
        if earlier is not None:
            return earlier
    notice = resident_notice(session, case, kind, text)
    queue_notice(session, case, notice, push_key or f"notice:{notice.id}", now)
    return notice


def notify_staff(session: Session, staff_id: int | None, case: Case | None, kind: str, text: str) -> Notice:
    notice = Notice(case_id=case.id if case else None, audience="staff", staff_id=staff_id, kind=kind, text=text)
    session.add(notice)
    return notice
