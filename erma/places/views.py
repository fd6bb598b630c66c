"""HTTP for towns, intake points and the agency service's public facts."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.county_data import service_point_facts
from erma.db import get_session
from erma.places.models import IntakePoint, Town, TownAlias, Village
from erma.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["places"])


@router.get("/towns")
def towns(session: Session = Depends(get_session)) -> dict:
    aliases: dict[str, list[str]] = {}
    for a in session.scalars(select(TownAlias)):
        aliases.setdefault(a.town_code, []).append(a.alias)
    villages: dict[str, list[str]] = {}
    for v in session.scalars(select(Village).order_by(Village.id)):
        villages.setdefault(v.town_code, []).append(v.name)
    return {"items": [{"code": t.code, "name": t.name, "county_seat": t.county_seat,
                       "aliases": aliases.get(t.code, []), "villages": villages.get(t.code, [])}
                      for t in session.scalars(select(Town).order_by(Town.code))]}


@router.get("/intake-points")
def intake_points(kind: str | None = None, session: Session = Depends(get_session)) -> dict:
    stmt = select(IntakePoint).order_by(IntakePoint.kind, IntakePoint.code)
    if kind:
        stmt = stmt.where(IntakePoint.kind == kind)
    return {"items": [{"code": p.code, "kind": p.kind, "name": p.name, "town_code": p.town_code,
                       "window_for": p.window_for} for p in session.scalars(stmt)],
            "service_point": service_point_facts(get_settings().places_path)}
