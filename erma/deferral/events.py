"""What happens to a 容缺 deferral, published by erma/deferral/service.py and erma/deferral/scheduled.py
(who listens is decided by erma/wiring.py)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from erma.cases.models import Case, CaseEvent
from erma.deferral.models import Deferral
from erma.staff.models import Staff


@dataclass(frozen=True)
class DeferralOpened:
    """容缺受理: the case moved on (`event`) with `deferral.missing_materials` to follow by
    `deferral.deadline`. The resident is reminded at `remind_at` and the deferral is overdue from
    `overdue_at` (both UTC)."""
    case: Case
    deferral: Deferral
    event: CaseEvent
    remind_at: dt.datetime
    overdue_at: dt.datetime
    now: dt.datetime


@dataclass(frozen=True)
class DeferralReminderDue:
    """The reminder day has come and the materials are still missing."""
    case: Case
    deferral: Deferral
    now: dt.datetime


@dataclass(frozen=True)
class DeferralOverdue:
    """The deadline day has passed: the deferral is overdue and `lead` (the duty lead of the day, if
    any) follows it up."""
    case: Case
    deferral: Deferral
    lead: Staff | None
    now: dt.datetime
