"""Reading the county's own facts: towns, aliases, villages and intake points (loaded into the
database), the county point's facts and its office hours. Reference layer: it imports nothing from
the domain (staff accounts and the duty rota are seeded by erma.staff.seed).

Files under catalog/ are the source; loading is an upsert so the county can replace them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from erma.clock import local_zone
from erma.places.models import IntakePoint, Town, TownAlias, Village
from erma.settings import get_settings
from erma.working_days import is_working_day


class CountyDataError(Exception):
    """A county data file is broken; the message names the file and the entry."""


def read_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CountyDataError(f"无法读取 {path}：{exc}") from None


def load_places(session: Session, path: Path, keep_aliases: frozenset[str] = frozenset()) -> None:
    """Aliases in `keep_aliases` (added, changed or removed by a county admin) stay as they are."""
    data = read_yaml(path)
    office_hours(path)  # broken office hours stop the load with the file's name, not a later handoff
    for t in data.get("towns", []):
        town = session.get(Town, t["code"]) or Town(code=t["code"])
        town.name, town.county_seat = t["name"], bool(t.get("county_seat"))
        session.merge(town)
    session.flush()
    session.execute(delete(TownAlias).where(TownAlias.alias.not_in(keep_aliases)))
    for a in data.get("aliases", []):
        if a["name"] in keep_aliases:
            continue
        session.add(TownAlias(alias=a["name"], town_code=a["town_code"], confirmed=bool(a.get("confirmed"))))
    existing = {(v.town_code, v.name) for v in session.scalars(select(Village))}
    for t in data.get("towns", []):
        for name in t.get("villages") or []:
            if (t["code"], name) not in existing:
                session.add(Village(town_code=t["code"], name=name))
    for p in data.get("intake_points", []):
        session.merge(IntakePoint(code=p["code"], kind=p["kind"], name=p["name"], town_code=p.get("town_code"),
                                  window_for=p.get("window_for")))
    session.flush()


@lru_cache(maxsize=4)
def service_point_facts(path: Path) -> dict:
    """The county point's facts, read once per process: every requirement answer, guide page and Open311
    definition names them, and the file changes only with a redeploy (read-only: callers must not mutate)."""
    return read_yaml(path).get("service_point", {})


@dataclass(frozen=True)
class OfficeHours:
    """When the county point's people answer (service_point.opening_hours.sessions in places.yaml):
    on working days of the official holiday calendar, inside one of the sessions (start included)."""

    sessions: tuple[tuple[dt.time, dt.time], ...]

    def open_at(self, now: dt.datetime) -> bool:
        local = now.astimezone(local_zone())
        return is_working_day(local.date()) and any(start <= local.time() < end for start, end in self.sessions)

    @property
    def text(self) -> str:
        """工作日 9:00–12:00、14:00–17:30"""
        return "工作日 " + "、".join(f"{s.hour}:{s.minute:02d}–{e.hour}:{e.minute:02d}" for s, e in self.sessions)


@lru_cache(maxsize=4)
def office_hours(path: Path) -> OfficeHours:
    sessions = (service_point_facts(path).get("opening_hours") or {}).get("sessions") or []
    try:
        parsed = tuple((dt.time.fromisoformat(str(s["start"])), dt.time.fromisoformat(str(s["end"]))) for s in sessions)
    except (KeyError, TypeError, ValueError):
        raise CountyDataError(f"{path} 的 service_point.opening_hours.sessions 要写成 {{start: \"09:00\", end: \"12:00\"}}") from None
    if not parsed or any(start >= end for start, end in parsed):
        raise CountyDataError(f"{path} 的 service_point.opening_hours.sessions 没有有效的上班时段")
    return OfficeHours(parsed)


def in_office_hours(now: dt.datetime) -> bool:
    """Whether a person at the county point answers at `now` (the county's office hours)."""
    return office_hours(get_settings().places_path).open_at(now)


def office_hours_text() -> str:
    return office_hours(get_settings().places_path).text
