"""HTTP for towns, intake points and the agency service's public facts."""
from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from erma.county_data import service_point_facts
from erma.places import listing
from erma.settings import get_settings
from erma.unit_of_work import SESSION

router = APIRouter(prefix="/api/v1", tags=["places"])


@router.get("/towns")
def towns(session: Session = SESSION) -> dict:
    return {"items": listing.towns_with_names(session)}


@router.get("/intake-points")
def intake_points(kind: str | None = None, session: Session = SESSION) -> dict:
    return {"items": listing.intake_points(session, kind),
            "service_point": service_point_facts(get_settings().places_path)}
