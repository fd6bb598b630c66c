"""When the duty lead (轮值组长) has to chase something: the overdue rules, in one place.

- A 容缺 deferral is overdue when the deferred materials have not arrived (not recorded as
  supplied) and its supplement deadline is before today. The deadline day itself is still in time:
  the same moment the outbox escalates it (erma.deferral.scheduled.handle_overdue). A deferral
  whose case has ended without a result (withdrawn, rejected, terminated) is not chased.
- A case is overdue when its promised-date clock is running (its stage is one of
  CLOCK_RUNNING_STAGES: received, town review, approved, 容缺 accepted, at the department) and its
  promised date (expected_completion_date, already moved on by earlier pauses for corrections) is
  before today — the same definition as the county dashboard's `open.overdue`. A case returned for
  correction is not overdue while it waits for the resident: the clock is paused and the promised
  date moves on when it is resubmitted.
- A follow-up task (回访) is due on its due_date: every open task is listed, with the days left
  or, past the due date, the days overdue. A 容缺逾期督办 task closes itself when the deferred
  materials are recorded as received (erma.followup.service.close_deferral_followup).

"Today" is the county's date (erma.clock, Asia/Shanghai), whatever the server's clock zone;
days are whole calendar days between two county dates.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, and_, select

from erma.cases.models import Case
from erma.cases.stages import CLOCK_RUNNING_STAGES, Stage
from erma.deferral.models import Deferral
from erma.followup.models import FollowUpTask

# Deferral statuses while the materials are still awaited (open; overdue = already escalated).
AWAITING_SUPPLEMENT = ("open", "overdue")
# A case that ended without a result needs no supplement any more.
ENDED_STAGES = (Stage.WITHDRAWN.value, Stage.REJECTED.value, Stage.TERMINATED.value)
CLOCK_RUNNING_VALUES = tuple(s.value for s in CLOCK_RUNNING_STAGES)


def days_between(earlier: dt.date, later: dt.date) -> int:
    return (later - earlier).days


def deferral_is_overdue(deferral: Deferral, case_stage: str, today: dt.date) -> bool:
    return (deferral.supplied_at is None and deferral.status in AWAITING_SUPPLEMENT
            and case_stage not in ENDED_STAGES and deferral.deadline < today)


def case_is_overdue(case: Case, today: dt.date) -> bool:
    return case.stage in CLOCK_RUNNING_VALUES and case.expected_completion_date < today


def overdue_deferrals_query(today: dt.date) -> Select:
    """(Deferral, Case) rows that are overdue on `today`, the longest overdue first."""
    return (select(Deferral, Case).join(Case, Case.id == Deferral.case_id)
            .where(Deferral.supplied_at.is_(None), Deferral.status.in_(AWAITING_SUPPLEMENT),
                   Deferral.deadline < today, Case.stage.not_in(ENDED_STAGES))
            .order_by(Deferral.deadline, Deferral.id))


def overdue_cases_query(today: dt.date) -> Select:
    """Cases past their promised date, not finished and not paused on `today`, the longest overdue first."""
    return (select(Case).where(and_(Case.stage.in_(CLOCK_RUNNING_VALUES), Case.expected_completion_date < today))
            .order_by(Case.expected_completion_date, Case.id))


def open_followups_query(kind: str) -> Select:
    """Open follow-up tasks of one kind, the earliest due first."""
    return (select(FollowUpTask, Case).join(Case, Case.id == FollowUpTask.case_id)
            .where(FollowUpTask.status == "open", FollowUpTask.kind == kind)
            .order_by(FollowUpTask.due_date, FollowUpTask.id))
