"""Where residents may hand in papers (多线接件): the county window, town centres and village
stations, from the intake points and the agency service's facts (catalog/places.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.county_data import service_point_facts
from erma.places.models import IntakePoint, Town
from erma.settings import get_settings

COUNTY_POINT_FALLBACK = "尔玛云便民服务代办点"


@dataclass(frozen=True)
class TownPoints:
    town: str
    county_window: str | None  # the town's window at the county point (none for the county seat)
    centres: tuple[str, ...]
    villages: tuple[str, ...]


@dataclass(frozen=True)
class SubmissionPlaces:
    county_point: str  # "县城凤仪镇的尔玛云便民服务代办点"
    window_towns: frozenset[str]  # towns with a window at the county point
    opening_hours: str | None
    fee_text: str | None
    towns: tuple[TownPoints, ...] = field(default=())


def submission_places(session: Session) -> SubmissionPlaces:
    facts = service_point_facts(get_settings().places_path)
    towns = list(session.scalars(select(Town).order_by(Town.code)))
    names = {t.code: t.name for t in towns}
    seat = next((t.name for t in towns if t.county_seat), None)
    point = facts.get("name") or COUNTY_POINT_FALLBACK
    windows: dict[str, str] = {}
    centres: dict[str, list[str]] = {}
    villages: dict[str, list[str]] = {}
    for p in session.scalars(select(IntakePoint).order_by(IntakePoint.code)):
        if p.kind == "county_window" and p.window_for:
            windows[p.window_for] = p.name
        elif p.kind == "town_centre" and p.town_code:
            centres.setdefault(p.town_code, []).append(p.name)
        elif p.kind == "village_point" and p.town_code:
            villages.setdefault(p.town_code, []).append(p.name)
    per_town = tuple(TownPoints(t.name, windows.get(t.code), tuple(centres.get(t.code, ())),
                                tuple(villages.get(t.code, ()))) for t in towns)
    hours = (facts.get("opening_hours") or {}).get("text")
    return SubmissionPlaces(county_point=f"县城{seat}的{point}" if seat else point,
                            window_towns=frozenset(names[c] for c in windows if c in names),
                            opening_hours=hours, fee_text=facts.get("fee_text"), towns=per_town)
