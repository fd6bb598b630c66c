"""HTTP for the Open311 GeoReport v2 façade (read-only, JSON): /open311/v2/…"""
from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from erma.unit_of_work import SESSION
from erma.errors import NotFound
from erma.open311 import service
from erma.places.where import submission_places

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])

# Accepted and ignored: the platform serves one jurisdiction (茂县).
Jurisdiction = Query(default=None, max_length=64, description="辖区编号（本平台只有茂县一个辖区，可不填）")


def _error(exc: NotFound) -> JSONResponse:
    """Open311 errors are an array of {code, description}."""
    return JSONResponse([{"code": exc.status_code, "description": exc.message}], status_code=exc.status_code)


@router.get("/services.json")
def services(jurisdiction_id: str | None = Jurisdiction, session: Session = SESSION) -> list[dict]:
    return service.services(session)


@router.get("/services/{code}.json", response_model=None)
def service_definition(code: str, jurisdiction_id: str | None = Jurisdiction,
                       session: Session = SESSION) -> dict | JSONResponse:
    try:
        return service.service_definition(session, code, submission_places(session))
    except NotFound as exc:
        return _error(exc)


@router.get("/requests/{case_no}.json", response_model=None)
def request(case_no: str, jurisdiction_id: str | None = Jurisdiction,
            session: Session = SESSION) -> list[dict] | JSONResponse:
    try:
        return [service.request_view(session, case_no)]
    except NotFound as exc:
        return _error(exc)
