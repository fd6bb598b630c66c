"""What "overdue" means, in one place: a 容缺 deferral past its supplement deadline and a case past
its promised date. The duty lead's lists (erma.lead), the county dashboard (erma.dashboard.metrics)
and the outbox's escalation to the duty lead (erma.deferral.scheduled.handle_overdue) all use these
clauses, so the lead's list, the dashboard's figure and what the outbox escalates agree.

- A 容缺 deferral is overdue when the deferred materials have not arrived (not recorded as
  supplied), its supplement deadline is before today — the deadline day itself is still in time;
  the escalation is scheduled for the first moment after it — and its case has not ended without a
  result (rejected, withdrawn, terminated: erma.cases.stages.ENDED_WITHOUT_RESULT). A terminated case
  owes nothing more (domain-notes §2.1, §2.6: termination is what follows an overdue 容缺), so it is neither
  listed, counted as due on the dashboard, nor escalated. A case that ended with a result (completed,
  followed up) still owes the deferred materials and the township is still chased for them.
- A case is overdue when its promised-date clock is running (its stage is one of
  CLOCK_RUNNING_STAGES: received, town review, approved, 容缺 accepted, at the department) and its
  promised date (expected_completion_date, already moved on by earlier pauses for corrections) is
  before today. A case returned for correction is not overdue while it waits for the resident: the
  clock is paused and the promised date moves on when it is resubmitted.

"Today" is the county's date (erma.clock, Asia/Shanghai), whatever the server's clock zone.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.stages import CLOCK_RUNNING_STAGES, ENDED_WITHOUT_RESULT
from erma.deferral.models import Deferral

ENDED_WITHOUT_RESULT_VALUES = tuple(sorted(s.value for s in ENDED_WITHOUT_RESULT))
CLOCK_RUNNING_VALUES = tuple(sorted(s.value for s in CLOCK_RUNNING_STAGES))


def deferral_owed() -> ColumnElement[bool]:
    """The deferred materials are still owed (the part of the rule that does not move with the clock):
    not supplied, and the case has not ended without a result. For a Deferral row joined with its Case."""
    return and_(Deferral.supplied_at.is_(None), Case.stage.not_in(ENDED_WITHOUT_RESULT_VALUES))


def deferral_overdue(today: dt.date) -> ColumnElement[bool]:
    """The overdue rule for a Deferral row joined with its Case: owed, and the deadline before today."""
    return and_(deferral_owed(), Deferral.deadline < today)


def deferral_owed_in_time(today: dt.date) -> ColumnElement[bool]:
    """Owed but not overdue yet (the deadline is today or later): so overdue = owed − owed in time. The
    dashboard keeps the owed ones in its summary and counts only these few live (erma.dashboard.metrics),
    instead of every overdue deferral of years past."""
    return and_(deferral_owed(), Deferral.deadline >= today)


def case_overdue(today: dt.date) -> ColumnElement[bool]:
    """The overdue rule for a Case row."""
    return and_(Case.stage.in_(CLOCK_RUNNING_VALUES), Case.expected_completion_date < today)


def is_deferral_overdue(session: Session, deferral_id: int, today: dt.date) -> bool:
    return session.scalar(select(Deferral.id).join(Case, Case.id == Deferral.case_id)
                          .where(Deferral.id == deferral_id, deferral_overdue(today))) is not None


def overdue_deferrals_query(today: dt.date) -> Select:
    """(Deferral, Case) rows that are overdue on `today`, the longest overdue first."""
    return (select(Deferral, Case).join(Case, Case.id == Deferral.case_id)
            .where(deferral_overdue(today))
            .order_by(Deferral.deadline, Deferral.id))


def overdue_cases_query(today: dt.date) -> Select:
    """Cases past their promised date, not finished and not paused on `today`, the longest overdue first."""
    return select(Case).where(case_overdue(today)).order_by(Case.expected_completion_date, Case.id)
