"""Working days on China's official calendar: statutory holidays plus 调休 makeup days.

chinesecalendar holds the State Council's yearly arrangement for the years it knows.
catalog/calendar_overrides.yaml, edited by county staff, wins over it: it adds a year the
library does not know yet (the arrangement is published each November) and any local
holiday. A year known to neither falls back to Monday–Friday, with one warning per year,
so deadlines keep being computed instead of failing.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import yaml

from erma.settings import ROOT, get_settings

log = logging.getLogger(__name__)

DEFAULT_OVERRIDES_PATH = ROOT / "catalog" / "calendar_overrides.yaml"


@dataclass(frozen=True)
class YearOverrides:
    """One year's county edits. `source` names the published notice the dates come from;
    while it is empty the year is treated as not yet officially known."""

    source: str
    holidays: frozenset[date]
    working_days: frozenset[date]


def _as_date(value: object, year: int) -> date:
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    if day.year != year:
        raise ValueError(f"calendar overrides: {day} is listed under year {year}")
    return day


def parse_overrides(data: dict | None) -> dict[int, YearOverrides]:
    """Check and convert the YAML structure {years: {YYYY: {source, holidays, working_days}}}."""
    result: dict[int, YearOverrides] = {}
    for year, entry in ((data or {}).get("years") or {}).items():
        year = int(year)
        entry = entry or {}
        holidays = frozenset(_as_date(d, year) for d in entry.get("holidays") or [])
        working = frozenset(_as_date(d, year) for d in entry.get("working_days") or [])
        clash = holidays & working
        if clash:
            raise ValueError(f"calendar overrides: {sorted(clash)} are both holiday and working day")
        result[year] = YearOverrides(str(entry.get("source") or "").strip(), holidays, working)
    return result


class WorkingCalendar:
    def __init__(self, overrides: dict[int, YearOverrides] | None = None):
        self._overrides = overrides or {}
        self._warned_years: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_yaml(cls, path: Path) -> WorkingCalendar:
        if not Path(path).exists():
            log.warning("calendar overrides file %s not found; using chinesecalendar only", path)
            return cls()
        with open(path, encoding="utf-8") as fh:
            return cls(parse_overrides(yaml.safe_load(fh)))

    def _warn_once(self, year: int) -> None:
        with self._lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        log.warning(
            "no official holiday arrangement for %s (chinesecalendar has none and "
            "catalog/calendar_overrides.yaml gives no source); counting Monday-Friday as "
            "working days. Add the year's 放假调休 arrangement to calendar_overrides.yaml.",
            year,
        )

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):
            day = day.date()
        edits = self._overrides.get(day.year)
        if edits:
            if day in edits.working_days:
                return True
            if day in edits.holidays:
                return False
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if not (edits and edits.source):
                self._warn_once(day.year)
            return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after start (start itself not counted); n < 0 goes back."""
        if isinstance(start, datetime):
            start = start.date()
        step = timedelta(days=1 if n >= 0 else -1)
        day, remaining = start, abs(n)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]: working_days_between(a, add_working_days(a, n)) == n.
        Negative when b is before a."""
        if isinstance(a, datetime):
            a = a.date()
        if isinstance(b, datetime):
            b = b.date()
        if b < a:
            return -self.working_days_between(b, a)
        return sum(
            1 for offset in range(1, (b - a).days + 1) if self.is_working_day(a + timedelta(days=offset))
        )


def library_years() -> tuple[int, int]:
    """First and last year chinesecalendar has official data for."""
    known = chinese_calendar.holidays
    return min(known).year, max(known).year


@lru_cache
def default_calendar() -> WorkingCalendar:
    settings = get_settings()
    # Settings may grow a calendar_overrides_path; until then the catalog file is used.
    path = getattr(settings, "calendar_overrides_path", None) or DEFAULT_OVERRIDES_PATH
    return WorkingCalendar.from_yaml(path)


def reload_calendar() -> None:
    """Re-read calendar_overrides.yaml after county staff edit it."""
    default_calendar.cache_clear()


def is_working_day(day: date) -> bool:
    return default_calendar().is_working_day(day)


def add_working_days(start: date, n: int) -> date:
    return default_calendar().add_working_days(start, n)


def working_days_between(a: date, b: date) -> int:
    return default_calendar().working_days_between(a, b)
