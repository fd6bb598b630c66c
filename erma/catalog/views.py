"""HTTP for the catalog (docs/platform-api.md §Catalog); the rules live in service/search/checklist."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from erma.catalog.answer import one_time_answer
from erma.catalog.checklist import match_materials, match_named_materials
from erma.catalog.schema import Material
from erma.catalog.service import catalog_tag, get_search, list_items, require_item
from erma.unit_of_work import SESSION, reads_only
from erma.errors import ValidationFailed
from erma.places.where import submission_places
from erma.public_url import public_url

GUIDE_LINK = "办事指南（可以转发给家里人，也可以打印）：{url}"
# Every answer about the catalog names its version: the assistant keeps items and drops them when it changes.
CATALOG_VERSION_HEADER = "X-Erma-Catalog-Version"


def mark_catalog_version(response: Response, session: Session = SESSION) -> None:
    """Router dependency: the catalog's version (catalog_tag) in the response's headers."""
    response.headers[CATALOG_VERSION_HEADER] = catalog_tag(session)


router = APIRouter(prefix="/api/v1/services", tags=["catalog"], dependencies=[Depends(mark_catalog_version)])


class ChecklistRequest(BaseModel):
    text: str | None = Field(default=None, max_length=2000, description="居民说的话，如“我有身份证和户口本”")
    have: list[str] | None = Field(default=None, max_length=50, description="居民已有的材料名称")


@router.get("")
@reads_only
def list_services(
    q: str | None = Query(default=None, max_length=500, description="群众的说法，按相关度排序"),
    limit: int = Query(default=5, ge=1, le=20),
    session: Session = SESSION,
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
@reads_only
def service_detail(code: str, session: Session = SESSION) -> dict:
    return require_item(session, code).model_dump(mode="json")


@router.get("/{code}/answer")
@reads_only
def service_answer(
    code: str, request: Request,
    town: str | None = Query(default=None, max_length=32, description="居民的户籍镇，如“赤不苏镇”"),
    fact: str | None = Query(default=None, max_length=16, description="先回答的细节：photo|in_person|eligibility|time|fee"),
    session: Session = SESSION,
) -> dict:
    """The one-time answer (一次性告知) the assistant gives and the public guide page shows."""
    return item_answer(session, request, code, town, fact)


def item_answer(session: Session, request: Request, code: str, town: str | None, fact: str | None) -> dict:
    """The answer of `GET /{code}/answer` (also given by `POST /api/v1/understand/resolve` with the item it found)."""
    answer = one_time_answer(require_item(session, code), submission_places(session), town=town, fact=fact)
    guide_url = public_url(request, f"/services/{answer.code}")
    return {"code": answer.code, "name": answer.name, "text": answer.text, "lead": answer.lead,
            "guide_url": guide_url,
            # What the chat prints: the detail asked first, the whole answer, then the guide's link.
            "message": f"{answer.chat_text}\n{GUIDE_LINK.format(url=guide_url)}"}


@router.post("/{code}/checklist")
@reads_only
def service_checklist(code: str, body: ChecklistRequest, session: Session = SESSION) -> dict:
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
        # What the assistant's answer names besides the materials (no second call for the item).
        "name": item.name,
        "rongque_listed": item.rongque_listed,
        "have": [m.name for m in have],
        "missing": [_material(m) for m in missing],
        # Materials needed only in some cases ("如有", "代办时"), not yet mentioned.
        "conditional": [_material(m) for m in conditional],
    }


def _material(material: Material) -> dict:
    return material.model_dump(mode="json")
