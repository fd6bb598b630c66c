"""Deadlines on the official calendar. Expected dates are worked out by hand from the State
Council notices (国办发明电〔2024〕12号 for 2025; the 2025-11-04 notice for 2026)."""
import logging
from datetime import date, datetime

import pytest

from erma.settings import ROOT
from erma.working_days import (
    WorkingCalendar,
    add_working_days,
    is_working_day,
    library_years,
    parse_overrides,
    working_days_between,
)


def test_library_covers_the_years_the_tests_rely_on():
    first, last = library_years()
    assert first <= 2025 and last >= 2026


# --- 2025 国庆·中秋: Oct 1–8 off; Sun Sep 28 and Sat Oct 11 are working days ---

def test_2025_national_day_makeup_days():
    assert is_working_day(date(2025, 9, 28))       # Sunday, 调休上班
    assert is_working_day(date(2025, 10, 11))      # Saturday, 调休上班
    assert not is_working_day(date(2025, 10, 8))   # Wednesday, holiday
    assert not is_working_day(date(2025, 10, 12))  # ordinary Sunday


def test_deadline_across_2025_national_day():
    start = date(2025, 9, 30)  # Tuesday, last day before the holiday
    assert add_working_days(start, 1) == date(2025, 10, 9)
    assert add_working_days(start, 3) == date(2025, 10, 11)  # lands on the makeup Saturday
    # Oct 9 Thu, 10 Fri, 11 Sat (调休), 13 Mon, 14 Tue
    assert add_working_days(start, 5) == date(2025, 10, 14)
    assert working_days_between(start, date(2025, 10, 14)) == 5


def test_makeup_sunday_before_2025_national_day():
    assert add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)


# --- 2026 国庆: Oct 1–7 off; Sun Sep 20 and Sat Oct 10 are working days ---

def test_deadline_across_2026_national_day():
    start = date(2026, 9, 30)
    assert add_working_days(start, 1) == date(2026, 10, 8)
    assert add_working_days(start, 3) == date(2026, 10, 10)  # Saturday, 调休上班
    assert add_working_days(start, 4) == date(2026, 10, 12)
    assert add_working_days(date(2026, 9, 18), 1) == date(2026, 9, 20)  # Sunday, 调休上班


# --- 春节 2026: Feb 15–23 off; Sat Feb 14 and Sat Feb 28 are working days ---

def test_ten_working_day_deadline_across_2026_spring_festival():
    start = date(2026, 2, 12)  # Thursday
    # Feb 13, 14 (Sat 调休), 24, 25, 26, 27, 28 (Sat 调休), Mar 2, 3, 4
    assert add_working_days(start, 10) == date(2026, 3, 4)
    assert add_working_days(start, 2) == date(2026, 2, 14)
    assert add_working_days(start, 3) == date(2026, 2, 24)
    assert add_working_days(start, 7) == date(2026, 2, 28)
    assert working_days_between(start, date(2026, 3, 4)) == 10


# --- 春节 2025: Jan 28–Feb 4 off; Sun Jan 26 and Sat Feb 8 are working days ---

def test_deadline_across_2025_spring_festival():
    assert add_working_days(date(2025, 1, 24), 1) == date(2025, 1, 26)
    assert add_working_days(date(2025, 1, 27), 1) == date(2025, 2, 5)
    assert add_working_days(date(2025, 1, 24), 6) == date(2025, 2, 8)


def test_start_is_not_counted_and_zero_returns_start():
    assert add_working_days(date(2025, 10, 9), 0) == date(2025, 10, 9)
    assert add_working_days(date(2025, 10, 9), 1) == date(2025, 10, 10)


def test_going_back_for_reminders():
    assert add_working_days(date(2025, 10, 9), -1) == date(2025, 9, 30)
    assert add_working_days(date(2026, 2, 24), -2) == date(2026, 2, 13)
    assert working_days_between(date(2025, 10, 14), date(2025, 9, 30)) == -5


def test_datetime_is_accepted():
    assert add_working_days(datetime(2025, 9, 30, 16, 45), 1) == date(2025, 10, 9)


@pytest.mark.parametrize("start", [date(2025, 9, 20), date(2026, 1, 30), date(2026, 9, 28)])
@pytest.mark.parametrize("n", [1, 5, 15, 30])
def test_between_inverts_add(start, n):
    assert working_days_between(start, add_working_days(start, n)) == n


# --- years the library does not know ---

def test_uncovered_year_falls_back_to_weekdays_and_warns_once(caplog):
    cal = WorkingCalendar()
    with caplog.at_level(logging.WARNING, logger="erma.working_days"):
        assert cal.is_working_day(date(2030, 1, 7))        # Monday
        assert not cal.is_working_day(date(2030, 1, 5))    # Saturday
        assert cal.add_working_days(date(2030, 1, 4), 1) == date(2030, 1, 7)
    warnings = [r for r in caplog.records if "2030" in r.getMessage()]
    assert len(warnings) == 1


def test_overrides_fill_an_uncovered_year_without_warning(caplog):
    cal = WorkingCalendar(parse_overrides({
        "years": {2030: {
            "source": "国务院办公厅关于2030年部分节假日安排的通知",
            "holidays": [date(2030, 1, 1)],
            "working_days": ["2030-01-05"],
        }}
    }))
    with caplog.at_level(logging.WARNING, logger="erma.working_days"):
        assert not cal.is_working_day(date(2030, 1, 1))
        assert cal.is_working_day(date(2030, 1, 5))
        assert cal.add_working_days(date(2029, 12, 31), 1) == date(2030, 1, 2)
    assert not [r for r in caplog.records if "2030" in r.getMessage()]


def test_overrides_without_source_still_warn(caplog):
    cal = WorkingCalendar(parse_overrides({"years": {2030: {"holidays": ["2030-01-01"]}}}))
    with caplog.at_level(logging.WARNING, logger="erma.working_days"):
        assert not cal.is_working_day(date(2030, 1, 1))
        assert cal.is_working_day(date(2030, 1, 2))
    assert len([r for r in caplog.records if "2030" in r.getMessage()]) == 1


def test_local_holiday_overrides_the_library():
    cal = WorkingCalendar(parse_overrides({"years": {2026: {"holidays": ["2026-11-09"]}}}))
    assert not cal.is_working_day(date(2026, 11, 9))
    assert cal.is_working_day(date(2026, 11, 10))
    assert cal.add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 10)


def test_overrides_reject_misplaced_and_contradictory_dates():
    with pytest.raises(ValueError):
        parse_overrides({"years": {2027: {"holidays": ["2028-01-01"]}}})
    with pytest.raises(ValueError):
        parse_overrides({"years": {2027: {"holidays": ["2027-01-01"], "working_days": ["2027-01-01"]}}})


def test_shipped_overrides_file_loads():
    cal = WorkingCalendar.from_yaml(ROOT / "catalog" / "calendar_overrides.yaml")
    assert cal.is_working_day(date(2026, 10, 10))
