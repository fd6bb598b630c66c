"""Promised completion dates in working days (or calendar days where the law says so)."""
from __future__ import annotations

import datetime as dt

from erma.clock import today_local
from erma.working_days import add_working_days, is_provisional, working_days_between


def expected_completion(item, start: dt.date) -> dt.date:
    if getattr(item, "time_limit_unit", "working_days") == "calendar_days":
        return start + dt.timedelta(days=item.promised_working_days)
    return add_working_days(start, item.promised_working_days)


def shift_for_pause(expected: dt.date, paused_from: dt.date, resumed: dt.date) -> dt.date:
    """The clock stops while a case waits for the resident's corrections (补齐补正)."""
    paused = working_days_between(paused_from, resumed)
    return add_working_days(expected, paused) if paused > 0 else expected


def promise_is_provisional(case, item) -> bool:
    """The promised date was counted in working days across a year with no official holiday
    arrangement yet, so it may move once the arrangement is entered (shown as （暂定）)."""
    if getattr(item, "time_limit_unit", "working_days") == "calendar_days":
        return False
    return is_provisional(today_local(case.created_at), case.expected_completion_date)
