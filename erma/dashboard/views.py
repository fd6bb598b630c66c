"""HTTP for the county dashboard: the figures as JSON, and a CSV export without personal data.

The CSV has one row per household town × item with cases in the range, then total rows (per town,
per item, and the whole view, marked （全部事项）/（全部镇）/（合计）): codes, names of towns and
items, and figures only — never an applicant's name, ID number, phone or a case number. It is UTF-8
with a byte-order mark so that Excel opens the Chinese headers correctly."""
from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from erma.cases.stages import STAGE_TEXT, Stage
from erma.clock import today_local
from erma.dashboard.metrics import (AGE_BUCKETS, AGE_TEXT, IDX, Counts, Dashboard, as_json, compute, group_sums,
                                    mean, percent_text, resolve_filters)
from erma.db import utcnow
from erma.unit_of_work import SESSION
from erma.followup.service import BAD_LEVELS, LEVELS
from erma.permissions import Permission
from erma.staff.auth import Principal, require

router = APIRouter(prefix="/api/v1", tags=["dashboard"])
STAFF = require(Permission.DASHBOARD)


def _board(session: Session, principal: Principal, from_: str | None, to: str | None, town: str | None) -> Dashboard:
    now = utcnow()
    filters = resolve_filters(session, principal, from_, to, town, today_local(now))
    return compute(session, filters, now)


@router.get("/dashboard")
def dashboard(from_: str | None = Query(None, alias="from", description="收件日期起（含），如 2026-01-01；默认90天前"),
              to: str | None = Query(None, description="收件日期止（含）；默认今天"),
              town: str | None = Query(None, description="镇代码或镇名；镇审核人员和代办员只能选本镇"),
              principal: Principal = Depends(STAFF), session: Session = SESSION) -> JSONResponse:
    # Plain JSON values already: skipping FastAPI's generic encoder saves a walk over ~100 KB of figures.
    return JSONResponse(as_json(_board(session, principal, from_, to, town)))


def _text(value: str) -> str:
    # A cell starting with = + - @ would be run as a formula by Excel.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


HEADER = (["镇代码", "镇", "事项编码", "事项", "收件数"] + [STAGE_TEXT[s] for s in Stage]
          + ["未办结", "未办结已超期"] + [f"未办结·已办{AGE_TEXT[key]}" for key, _, _ in AGE_BUCKETS]
          + ["最长已办天数", "已办结", "按时办结", "按时办结率(%)", "跑动总次数", "有跑动记录件数",
             "跑动未记录件数", "平均跑动次数", "最多跑一次件数", "最多跑一次比例(%)", "容缺件数", "容缺比例(%)", "容缺应补齐件数", "按期补齐件数",
             "按期补齐率(%)", "评价数"] + [LEVELS[level] for level in sorted(LEVELS, reverse=True)]
          + ["差评数", "聊天提交件数", "转人工件数", "转人工率(%)"])


STAGE_KEYS = [f"stage:{s.value}" for s in Stage]
AGE_KEYS = [f"age:{key}" for key, _, _ in AGE_BUCKETS]
LEVEL_KEYS = [f"rating:{level}" for level in sorted(LEVELS, reverse=True)]
BAD_KEYS = [f"rating:{level}" for level in BAD_LEVELS]


ALL_ITEMS, ALL_TOWNS, ALL = "（全部事项）", "（全部镇）", "（合计）"
_STAGES, _AGES, _LEVELS, _BAD = ([IDX[k] for k in keys] for keys in (STAGE_KEYS, AGE_KEYS, LEVEL_KEYS, BAD_KEYS))
(_CASES, _RECORDED, _VISITS, _COMPLETED, _ON_TIME, _LE1, _DEFERRALS, _DUE, _SUPPLIED, _CHAT, _HANDED, _OPEN,
 _OVERDUE) = (IDX[k] for k in ("cases", "visits_recorded", "visits", "completed", "completed_on_time", "visits_le1",
                                "deferrals", "deferrals_due", "supplied_on_time", "chat_cases", "handed_off", "open",
                                "open_overdue"))


def _row(board: Dashboard, town: str, town_name: str, item: str, item_name: str, c: Counts) -> list:
    v, oldest = c.values, c.oldest  # positions, not keys: this runs for every town × item
    # Trips are measured over the cases with a recorded trip only; the rest are 未记录.
    cases, recorded = v[_CASES], v[_RECORDED]
    visits, completed, on_time, le1 = v[_VISITS], v[_COMPLETED], v[_ON_TIME], v[_LE1]
    deferrals, due, supplied = v[_DEFERRALS], v[_DUE], v[_SUPPLIED]
    chat, handed = v[_CHAT], v[_HANDED]
    levels = [v[i] for i in _LEVELS]
    return [town, _text(town_name), item, _text(item_name),
            cases, *[v[i] for i in _STAGES], v[_OPEN], v[_OVERDUE], *[v[i] for i in _AGES],
            "" if oldest is None else (board.now - oldest).days,
            completed, on_time, percent_text(on_time, completed),
            visits, recorded, cases - recorded, f"{mean(visits, recorded):.2f}" if recorded else "",
            le1, percent_text(le1, recorded),
            deferrals, percent_text(deferrals, cases), due, supplied, percent_text(supplied, due),
            sum(levels), *levels, sum(v[i] for i in _BAD),
            chat, handed, percent_text(handed, chat)]


def csv_rows(board: Dashboard) -> list[list]:
    """One row per (town, item), straight from the additive counts (the same figures as `figures`);
    then, so that nobody has to add up rates in Excel, the totals the page shows: per town and per
    item when the view has more than one town, and the whole of the view last."""
    names_t, names_i = board.town_names, board.item_names
    rows = [_row(board, town, names_t.get(town, town), item, names_i.get(item, item), c)
            for (town, item), c in sorted(board.cells.items())]
    by_town, by_item, total = group_sums(board)
    if len(by_town) > 1:
        rows += [_row(board, town, names_t.get(town, town), "", ALL_ITEMS, c)
                 for town, c in sorted(by_town.items()) if c["cases"]]
        rows += [_row(board, "", ALL_TOWNS, item, names_i.get(item, item), c) for item, c in sorted(by_item.items())]
    rows.append(_row(board, "", ALL, "", ALL_ITEMS, total))
    return rows


@router.get("/dashboard.csv")
def dashboard_csv(from_: str | None = Query(None, alias="from"), to: str | None = None, town: str | None = None,
                  principal: Principal = Depends(STAFF), session: Session = SESSION) -> Response:
    board = _board(session, principal, from_, to, town)
    out = io.StringIO()
    out.write("\ufeff")  # Excel needs the BOM to read UTF-8
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(csv_rows(board))
    f = board.filters
    name = f"erma-dashboard-{f.start.isoformat()}-{f.end.isoformat()}" + (f"-{f.town}" if f.town else "") + ".csv"
    return Response(out.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
