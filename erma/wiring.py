"""Start-up wiring: who listens to the domain's events (docs/architecture.md, "Events").

`wire()` subscribes every listener (erma/events.py) and hooks the dashboard summary's stale-day watcher
onto the platform's sessionmaker. It is idempotent and must run once in every process that changes
cases or conversations, before the first change. The production entry points are exactly two, and both
call it:

- the web application: `erma.app.create_app` (`python -m erma serve`);
- the outbox worker: `python -m erma worker` (erma/__main__.py, like the CLI commands there).

The test fixtures (tests/platform/conftest.py) call it too. A process that forgets it loses nothing
silently: `erma.events.publish` raises `NotWired`, so the change is rolled back instead of committed
without its push.
"""
from __future__ import annotations

from erma import events
from erma.cases.events import StageChanged
from erma.conversations.events import AgentReplied, OwnerChanged
from erma.dashboard.summary import watch
from erma.db import on_every_sessionmaker
from erma.deferral.events import DeferralOpened, DeferralOverdue, DeferralReminderDue
from erma.outbox import deferrals as outbox_deferrals
from erma.pushes import listeners as pushes
from erma.review.events import CaseApproved, CaseRejected, DeficiencyNotified

# Every event the domain publishes (a test checks each has a listener).
EVENT_TYPES = (StageChanged, DeficiencyNotified, CaseApproved, CaseRejected, DeferralOpened, DeferralReminderDue,
               DeferralOverdue, OwnerChanged, AgentReplied)

# In the order they run for one event: the pushes tell people first, then the outbox schedules.
SUBSCRIPTIONS = (*pushes.SUBSCRIPTIONS, *outbox_deferrals.SUBSCRIPTIONS)


def wire() -> None:
    """Subscribe every listener and watch the sessionmaker; calling it again changes nothing."""
    # Every change to cases marks the dashboard's daily summary stale in the same transaction.
    on_every_sessionmaker(watch)
    for event_type, handler in SUBSCRIPTIONS:
        events.subscribe(event_type, handler)
    events.mark_wired()
