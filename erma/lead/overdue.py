"""When the duty lead (轮值组长) has to chase something. What makes a 容缺 deferral or a case overdue
is decided in erma.deferral.overdue (the same rule the dashboard and the outbox's escalation use);
the follow-up tasks are here.

- A follow-up task (回访) is due on its due_date: every open task is listed, with the days left
  or, past the due date, the days overdue. A 容缺逾期督办 task closes itself when the deferred
  materials are recorded as received (erma.followup.service.close_deferral_followup).

"Today" is the county's date (erma.clock, Asia/Shanghai), whatever the server's clock zone;
days are whole calendar days between two county dates.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select

from erma.cases.models import Case
from erma.followup.models import FollowUpTask


def days_between(earlier: dt.date, later: dt.date) -> int:
    return (later - earlier).days


def open_followups_query(kind: str) -> Select:
    """Open follow-up tasks of one kind, the earliest due first."""
    return (select(FollowUpTask, Case).join(Case, Case.id == FollowUpTask.case_id)
            .where(FollowUpTask.status == "open", FollowUpTask.kind == kind)
            .order_by(FollowUpTask.due_date, FollowUpTask.id))
