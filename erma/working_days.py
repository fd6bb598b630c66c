"""Working days on China's official calendar: statutory holidays plus 调休 makeup days.

chinesecalendar holds the State Council's yearly arrangement for the years it knows.
catalog/calendar_overrides.yaml, edited by county staff, wins over it: it adds a year the
library does not know yet (the arrangement is published each November) and any local
holiday. County admins' edits on the admin page (table calendar_overrides, loaded by
erma/calendar/sync.py through install_admin_overrides) win over both. A year known to none of them
falls back to Monday–Friday, with one warning per year, so deadlines keep being computed instead of
failing; dates computed across such a year are provisional (`uncovered_years`).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class AdminOverrides:
    """Admins' edits from the database: day -> True (working) / False (holiday), the published
    source each year's arrangement was entered from, and the version they were read at."""

    days: Mapping[date, bool] = field(default_factory=dict)
    sources: Mapping[int, str] = field(default_factory=dict)
    version: object = None


class WorkingCalendar:
    def __init__(self, overrides: dict[int, YearOverrides] | None = None, admin: AdminOverrides | None = None):
        self._overrides = overrides or {}
        self._admin = admin or AdminOverrides()
        self._warned_years: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_yaml(cls, path: Path) -> WorkingCalendar:
        if not Path(path).exists():
            log.warning("calendar overrides file %s not found; using chinesecalendar only", path)
            return cls()
        with open(path, encoding="utf-8") as fh:
            return cls(parse_overrides(yaml.safe_load(fh)))

    def with_admin(self, admin: AdminOverrides) -> WorkingCalendar:
        return WorkingCalendar(self._overrides, admin)

    def source_of(self, year: int) -> tuple[str, str]:
        """(where, source) of a year's official arrangement: where is admin | file | library, or
        ("", "") when no one knows it yet."""
        if self._admin.sources.get(year):
            return "admin", self._admin.sources[year]
        edits = self._overrides.get(year)
        if edits and edits.source:
            return "file", edits.source
        first, last = library_years()
        if first <= year <= last:
            return "library", "chinesecalendar"
        return "", ""

    def is_covered(self, year: int) -> bool:
        return bool(self.source_of(year)[0])

    def uncovered_years(self, start: date, end: date) -> list[int]:
        """Years not covered among the days counted from start to end (start itself not counted)."""
        if isinstance(start, datetime):
            start = start.date()
        if isinstance(end, datetime):
            end = end.date()
        low, high = sorted((start, end))
        first = (low + timedelta(days=1)).year if low != high else low.year
        return [y for y in range(first, high.year + 1) if not self.is_covered(y)]

    def _warn_once(self, year: int) -> None:
        with self._lock:
            if year in self._warned_years:
                return
            self._warned_years.add(year)
        log.warning(
            "no official holiday arrangement for %s (chinesecalendar has none and neither "
            "the admins' overrides nor catalog/calendar_overrides.yaml give a source); counting Monday-Friday as "
            "working days. Enter the year's 放假调休 arrangement on the admin page (节假日调整) "
            "or in calendar_overrides.yaml.",
            year,
        )

    def is_working_day(self, day: date) -> bool:
        if isinstance(day, datetime):
            day = day.date()
        admin = self._admin.days.get(day)
        if admin is not None:
            return admin
        edits = self._overrides.get(day.year)
        if edits:
            if day in edits.working_days:
                return True
            if day in edits.holidays:
                return False
        first, last = library_years()
        if first <= day.year <= last:
            try:
                return chinese_calendar.is_workday(day)
            except NotImplementedError:
                pass
        # Not asked past its last year: it raises for every such day, and a 60-working-day promise made in
        # December counted ~40 of them (3.6 ms instead of 0.7 ms).
        if not self.is_covered(day.year):
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


@lru_cache
def library_years() -> tuple[int, int]:
    """First and last year chinesecalendar has official data for."""
    known = chinese_calendar.holidays
    return min(known).year, max(known).year


# The admins' layer as last read from the database; swapped whole, so readers never see half of it.
_admin = AdminOverrides()


@lru_cache
def _file_calendar() -> WorkingCalendar:
    settings = get_settings()
    # Settings may grow a calendar_overrides_path; until then the catalog file is used.
    path = getattr(settings, "calendar_overrides_path", None) or DEFAULT_OVERRIDES_PATH
    return WorkingCalendar.from_yaml(path)


@lru_cache
def default_calendar() -> WorkingCalendar:
    return _file_calendar().with_admin(_admin)


def install_admin_overrides(admin: AdminOverrides) -> None:
    """Put the admins' edits (read from the database by erma.calendar.sync) in front of the calendar."""
    global _admin
    _admin = admin
    default_calendar.cache_clear()


def admin_overrides_version() -> object:
    return _admin.version


def is_working_day(day: date) -> bool:
    return default_calendar().is_working_day(day)


def add_working_days(start: date, n: int) -> date:
    return default_calendar().add_working_days(start, n)


def working_days_between(a: date, b: date) -> int:
    return default_calendar().working_days_between(a, b)


def uncovered_years(start: date, end: date) -> list[int]:
    return default_calendar().uncovered_years(start, end)


def is_provisional(start: date, end: date) -> bool:
    """A date counted in working days from start to end is provisional while a year it crossed has
    no official holiday arrangement (it may move when the arrangement is entered)."""
    return bool(uncovered_years(start, end))
