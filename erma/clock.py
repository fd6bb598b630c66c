"""The county's local date: deadlines and case numbers use China dates, storage uses UTC."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from erma.db import as_utc, utcnow
from erma.settings import get_settings


def local_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().erma_timezone)


def today_local(now: dt.datetime | None = None) -> dt.date:
    return (as_utc(now) or utcnow()).astimezone(local_zone()).date()


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """The UTC instant at which `day` starts in the county."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=local_zone()).astimezone(dt.timezone.utc)
