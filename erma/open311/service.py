"""The catalog and a case in Open311 GeoReport v2 shapes (field names as the spec spells them).

A service is an item; its definition lists the item's materials as informational attributes
(`variable: false`), worded by the same function as the assistant's one-time answer. A request is
a case as outsiders may see it: number, item, stage, dates, department and the household town's
name — never the applicant's name, ID number, phone or village.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from erma.cases.models import Case
from erma.cases.stages import OPEN_STAGES, STAGE_TEXT, Stage
from erma.catalog.answer import OneTimeAnswer, agency_text, eligibility_text, one_time_answer, time_limit_text
from erma.catalog.lexicon import cached_lexicon
from erma.catalog.schema import Material, ServiceItemSpec
from erma.catalog.service import get_item, list_items
from erma.clock import local_zone
from erma.db import as_utc
from erma.errors import NotFound
from erma.places.models import Town
from erma.places.where import SubmissionPlaces

ITEM_NOT_FOUND = "没有这个事项编码（service_code）"
REQUEST_NOT_FOUND = "没有这个办件编号（service_request_id）"


def _local(at: dt.datetime | None) -> str | None:
    """ISO 8601 in China time with its offset (2026-12-05T23:39:04+08:00)."""
    return as_utc(at).astimezone(local_zone()).isoformat(timespec="seconds") if at is not None else None


def _keywords(item: ServiceItemSpec) -> str:
    """The short names residents use for the item (single words of the search lexicon), comma separated."""
    names = [parts[0] for parts in cached_lexicon().service_names.get(item.code, ()) if len(parts) == 1]
    return ", ".join(dict.fromkeys(names))


def service_view(item: ServiceItemSpec) -> dict:
    description = " ".join(t for t in (eligibility_text(item), time_limit_text(item), agency_text(item)) if t)
    return {"service_code": item.code, "service_name": item.name, "description": description,
            "metadata": False, "type": "realtime", "keywords": _keywords(item), "group": item.category}


def services(session: Session) -> list[dict]:
    return [service_view(item) for item in list_items(session)]


def _attribute(order: int, material: Material, line_text: str, deferrable: bool) -> dict:
    values = []
    if deferrable:
        values = [{"key": "provided", "name": "已提供"}, {"key": "deferred", "name": "容缺后补"}]
    elif not material.required:
        values = [{"key": "provided", "name": "已提供"}, {"key": "not_applicable", "name": "不涉及"}]
    attribute = {"variable": False, "code": f"material_{order}",
                 "datatype": "singlevaluelist" if values else "string",
                 "required": material.required,
                 "datatype_description": f"{material.form}，{material.count}份，由{material.supplier}提供",
                 "order": order, "description": line_text}
    if values:
        attribute["values"] = values
    return attribute


def service_definition(session: Session, code: str, places: SubmissionPlaces) -> dict:
    item = get_item(session, code)
    if item is None:
        raise NotFound("service_not_found", ITEM_NOT_FOUND)
    answer: OneTimeAnswer = one_time_answer(item, places)
    return {"service_code": item.code,
            "attributes": [_attribute(i, m, line.text, line.deferrable)
                           for i, (m, line) in enumerate(zip(item.materials, answer.materials, strict=True), start=1)]}


def request_view(session: Session, case_no: str) -> dict:
    case = session.scalar(select(Case).where(Case.case_no == (case_no or "").strip().upper()))
    if case is None:
        raise NotFound("case_not_found", REQUEST_NOT_FOUND)
    item = get_item(session, case.service_code)
    town = session.get(Town, case.hukou_town_code)
    stage = Stage(case.stage)
    # Promised "by that day": the end of the China day.
    expected = dt.datetime.combine(case.expected_completion_date, dt.time(23, 59, 59), tzinfo=local_zone())
    return {"service_request_id": case.case_no,
            "status": "open" if stage in OPEN_STAGES else "closed",
            "status_notes": STAGE_TEXT[stage],
            "service_name": item.name if item else case.service_code,
            "service_code": case.service_code,
            "description": None,
            "agency_responsible": item.department if item else None,
            "service_notice": None,
            "requested_datetime": _local(case.created_at),
            "updated_datetime": _local(case.updated_at),
            "expected_datetime": expected.isoformat(timespec="seconds"),
            "address": town.name if town else None,
            "address_id": None, "zipcode": None, "lat": None, "long": None, "media_url": None}
