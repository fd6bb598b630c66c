"""HTTP for the catalog (docs/platform-api.md §Catalog); the rules live in service/search/checklist."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.catalog.checklist import match_materials, match_named_materials
from erma.catalog.schema import Material
from erma.catalog.service import get_search, list_items, require_item
from erma.db import get_session
from erma.errors import ValidationFailed

router = APIRouter(prefix="/api/v1/services", tags=["catalog"])


class ChecklistRequest(BaseModel):
    text: str | None = Field(default=None, max_length=2000, description="居民说的话，如“我有身份证和户口本”")
    have: list[str] | None = Field(default=None, max_length=50, description="居民已有的材料名称")


@router.get("")
def list_services(
    q: str | None = Query(default=None, max_length=500, description="群众的说法，按相关度排序"),
    limit: int = Query(default=5, ge=1, le=20),
    session: Session = Depends(get_session),
) -> dict:
    if q is not None and q.strip():
        # The platform decides which item is meant: one (ambiguous false, items[0]) or a close
        # call the resident settles by choosing among `choices`.
        search = get_search(session)
        found = search.find(q, limit=limit)

        def ranked(pairs: list[tuple[str, float]]) -> list[dict]:
            return [
                {"code": code, "name": search.items[code].name, "category": search.items[code].category,
                 "score": score}
                for code, score in pairs
            ]

        return {"items": ranked(found.items), "ambiguous": found.ambiguous, "choices": ranked(found.choices)}
    return {
        "items": [
            {
                "code": item.code,
                "name": item.name,
                "category": item.category,
                "department": item.department,
                "agent_handled": item.agent_handled,
                "rongque_listed": item.rongque_listed,
                "promised_working_days": item.promised_working_days,
                "time_limit_unit": item.time_limit_unit,
            }
            for item in list_items(session)
        ]
    }


@router.get("/{code}")
def service_detail(code: str, session: Session = Depends(get_session)) -> dict:
    return require_item(session, code).model_dump(mode="json")


@router.post("/{code}/checklist")
def service_checklist(code: str, body: ChecklistRequest, session: Session = Depends(get_session)) -> dict:
    item = require_item(session, code)
    if body.have is not None:
        have, missing = match_named_materials(item, body.have)
    elif body.text is not None and body.text.strip():
        have, missing = match_materials(item, body.text)
    else:
        raise ValidationFailed("checklist_empty", "请说一下您已经有哪些材料，例如“我有身份证和户口本”。", field="text")
    covered = {m.name for m in have}
    conditional = [m for m in item.materials if not m.required and m.name not in covered]
    return {
        "code": item.code,
        "have": [m.name for m in have],
        "missing": [_material(m) for m in missing],
        # Materials needed only in some cases ("如有", "代办时"), not yet mentioned.
        "conditional": [_material(m) for m in conditional],
    }


def _material(material: Material) -> dict:
    return material.model_dump(mode="json")
