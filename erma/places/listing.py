"""The county's towns (with aliases and villages) and intake points as lists, for the API and the pages."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.places.models import IntakePoint, Town, TownAlias, Village


def towns(session: Session, only: Collection[str] | None = None) -> list[Town]:
    """The towns in code order; only those whose code is in `only` when it is given."""
    stmt = select(Town).order_by(Town.code)
    if only is not None:
        stmt = stmt.where(Town.code.in_(sorted(only)))
    return list(session.scalars(stmt))


def towns_with_names(session: Session) -> list[dict]:
    """Every town with the other names residents use for it and its villages."""
    aliases: dict[str, list[str]] = {}
    for a in session.scalars(select(TownAlias)):
        aliases.setdefault(a.town_code, []).append(a.alias)
    villages: dict[str, list[str]] = {}
    for v in session.scalars(select(Village).order_by(Village.id)):
        villages.setdefault(v.town_code, []).append(v.name)
    return [{"code": t.code, "name": t.name, "county_seat": t.county_seat,
             "aliases": aliases.get(t.code, []), "villages": villages.get(t.code, [])} for t in towns(session)]


def intake_points(session: Session, kind: str | None = None) -> list[dict]:
    stmt = select(IntakePoint).order_by(IntakePoint.kind, IntakePoint.code)
    if kind:
        stmt = stmt.where(IntakePoint.kind == kind)
    return [{"code": p.code, "kind": p.kind, "name": p.name, "town_code": p.town_code,
             "window_for": p.window_for} for p in session.scalars(stmt)]
