"""The public service guide (no sign-in): the county's items by category, and for each item the
one-time answer the assistant gives (erma/catalog/answer.py), phone first, printable, shareable."""
from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from string import Template

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from erma.catalog.answer import CONDITIONAL_MARK, DEFERRABLE_MARK, OneTimeAnswer, eligibility_text, one_time_answer
from erma.catalog.schema import ServiceItemSpec
from erma.catalog.service import get_item, get_search, list_items
from erma.unit_of_work import SESSION
from erma.errors import NotFound
from erma.places.where import SubmissionPlaces, submission_places
from erma.public_url import public_url

router = APIRouter(tags=["public guide"], include_in_schema=False)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
ASSETS = {"guide.css": "text/css; charset=utf-8", "guide.js": "text/javascript; charset=utf-8"}
SITE = "尔玛云便民代办"
# Public pages: our own files only, no framing; a shared cache may keep them a few minutes.
HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                      "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin",
           "Cache-Control": "public, max-age=300"}
SEARCH_LIMIT = 10


@lru_cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def fill(name: str, /, *, raw: dict[str, str] | None = None, **values: object) -> str:
    """The template with every value HTML-escaped; `raw` holds fragments built from escaped parts."""
    return _template(name).substitute({**{k: html.escape(str(v)) for k, v in values.items()}, **(raw or {})})


def page(title: str, description: str, canonical: str, body: str, status_code: int = 200) -> HTMLResponse:
    content = fill("layout.html", title=title, description=description, canonical=canonical, raw={"body": body})
    return HTMLResponse(content, status_code=status_code, headers=HEADERS)


def _item_row(item: ServiceItemSpec) -> str:
    facts = [f"{item.promised_working_days}{'天' if item.time_limit_unit == 'calendar_days' else '个工作日'}"]
    if item.agent_handled:
        facts.append("免费代办")
    if item.rongque_listed:
        facts.append("可容缺")
    # The words the client-side filter matches: name, category and residents' phrasings.
    words = " ".join([item.name, item.category, *item.phrasings])
    return (f'<li class="item" data-words="{html.escape(words)}"><a href="/services/{html.escape(item.code)}">'
            f'<span class="name">{html.escape(item.name)}</span>'
            f'<span class="facts">{html.escape(" · ".join(facts))}</span></a></li>')


def _groups(items: list[ServiceItemSpec]) -> str:
    by_category: dict[str, list[ServiceItemSpec]] = {}
    for item in items:
        by_category.setdefault(item.category, []).append(item)
    sections = []
    for category, members in by_category.items():
        rows = "\n".join(_item_row(i) for i in members)
        sections.append(f'<section class="category"><h2>{html.escape(category)}'
                        f'<span class="count">{len(members)} 项</span></h2><ul class="items">{rows}</ul></section>')
    return "\n".join(sections)


def _results(session: Session, q: str, items: dict[str, ServiceItemSpec]) -> str:
    found = get_search(session).find(q, limit=SEARCH_LIMIT)
    codes = [code for code, _ in (found.choices if found.ambiguous else found.items) if code in items]
    if not codes:
        return (f'<section class="results"><p>没有找到和“{html.escape(q)}”对得上的事项。换个说法试试，'
                '或者<a href="/chat">问尔玛云助手</a>。</p></section>')
    rows = "\n".join(_item_row(items[c]) for c in codes)
    lead = "您说的可能是下面几项，点开看看：" if found.ambiguous else f"和“{html.escape(q)}”有关的事项："
    return f'<section class="results"><h2>{lead}</h2><ul class="items">{rows}</ul></section>'


@router.get("/services", response_class=HTMLResponse)
def guide_list(request: Request, q: str | None = Query(default=None, max_length=100),
               session: Session = SESSION) -> HTMLResponse:
    items = list_items(session)
    q = (q or "").strip()
    results = _results(session, q, {i.code: i for i in items}) if q else ""
    body = fill("list.html", count=len(items), q=q, raw={"results": results, "groups": _groups(items)})
    return page(f"办事指南：茂县便民代办事项 · {SITE}",
                f"茂县尔玛云便民代办{len(items)}个事项：要带的材料、在哪里交、多久办好，一次说全；代办免费。",
                public_url(request, "/services"), body)


def _points(places: SubmissionPlaces) -> str:
    rows = []
    for town in places.towns:
        where = [*town.centres]
        if town.county_window:
            where.append(town.county_window)
        if town.villages:
            where.append(f"本镇{len(town.villages)}个村便民服务站")
        rows.append(f"<li><strong>{html.escape(town.town)}</strong>：{html.escape('、'.join(where))}</li>")
    return "\n".join(rows)


def _item_body(item: ServiceItemSpec, answer: OneTimeAnswer, places: SubmissionPlaces, canonical: str) -> str:
    materials = "\n".join(
        f'<li class="material{" optional" if not m.required else ""}{" deferrable" if m.deferrable else ""}">'
        f"{html.escape(m.text)}</li>" for m in answer.materials)
    facts = "\n".join(f'<p class="fact {cls}">{html.escape(text)}</p>'
                      for cls, text in (("where", answer.where), ("time", answer.time_limit),
                                        ("agency", answer.agency), ("rongque", answer.rongque)) if text)
    who = eligibility_text(item)
    legend = [f"{CONDITIONAL_MARK}：有这种情况才要交"] if any(not m.required for m in answer.materials) else []
    if any(m.deferrable for m in answer.materials):
        legend.append(f"{DEFERRABLE_MARK}：可以容缺，先办后补")
    hours = f"<p>县城代办点办公时间：{html.escape(places.opening_hours)}</p>" if places.opening_hours else ""
    return fill("item.html", category=item.category, name=item.name, code=item.code, department=item.department,
                heading=answer.heading, legend="；".join(legend) or "材料都要带齐。", canonical=canonical,
                raw={"who": f'<p class="who">{html.escape(who)}</p>' if who else "", "materials": materials,
                     "facts": facts, "hours": hours, "points": _points(places)})


@router.get("/services/static/{name}")
def guide_asset(name: str) -> FileResponse:
    if name not in ASSETS:  # a fixed list: nothing else on disk is reachable
        raise NotFound("not_found", "没有这个文件")
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"})


@router.get("/services/{code}", response_class=HTMLResponse)
def guide_item(code: str, request: Request, session: Session = SESSION) -> Response:
    item = get_item(session, code) if len(code) <= 16 else None
    if item is None:
        shown = code.strip()[:16] or "（空）"
        body = fill("not_found.html", code=shown)
        return page(f"没有找到这个事项 · {SITE}", "没有找到这个办事事项，请看全部事项。",
                    public_url(request, "/services"), body, status_code=404)
    if code != item.code:  # one address per item: /services/mx-001 → /services/MX-001
        return RedirectResponse(f"/services/{item.code}", status_code=301)
    places = submission_places(session)
    answer = one_time_answer(item, places)
    canonical = public_url(request, f"/services/{item.code}")
    rongque = "，可容缺办理" if item.rongque_listed else ""
    description = (f"办“{item.name}”要带{len(item.materials)}样材料，承诺{item.promised_working_days}"
                   f"{'天' if item.time_limit_unit == 'calendar_days' else '个工作日'}办好，代办免费{rongque}。"
                   "村便民服务站、镇便民服务中心、县城代办点都能交。")
    return page(f"{item.name}：要带什么材料 · {SITE}", description, canonical,
                _item_body(item, answer, places, canonical))
