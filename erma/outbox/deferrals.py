"""The 容缺 deadlines on the outbox: when a deferral opens, its reminder and its escalation are put on
the outbox in the same transaction (subscribed by erma/wiring.py), and erma/deferral/scheduled.py
handles them when they fall due."""
from __future__ import annotations

from sqlalchemy.orm import Session

from erma.deferral.events import DeferralOpened
from erma.deferral.scheduled import handle_overdue, handle_reminder
from erma.outbox.kinds import Kind
from erma.outbox.service import enqueue

REMINDER, OVERDUE = "deferral_reminder", "deferral_overdue"

KINDS = {
    REMINDER: Kind(handle_reminder),
    OVERDUE: Kind(handle_overdue),
}


def schedule_deadlines(session: Session, opened: DeferralOpened) -> None:
    deferral_id = opened.deferral.id
    enqueue(session, REMINDER, f"{REMINDER}:{deferral_id}", {"deferral_id": deferral_id}, opened.remind_at)
    enqueue(session, OVERDUE, f"{OVERDUE}:{deferral_id}", {"deferral_id": deferral_id}, opened.overdue_at)


SUBSCRIPTIONS = ((DeferralOpened, schedule_deadlines),)
