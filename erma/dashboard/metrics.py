"""The county dashboard's figures, computed by SQL aggregates over the cases opened in a date range.

Every figure describes the cohort of cases *opened* (Case.created_at) between `from` and `to`
(China dates, both inclusive), whatever happened to them afterwards. Additive counts per
(household town, item) come from the daily summary (erma/dashboard/summary.py: the counts that
follow from the records alone, summed over the spans of days that tile the range, with the cases by
stage as columns) and from two live queries for what moves with the clock — the open cases' age and
lateness, and the deferrals still owed but inside their deadline (the summary's owed ones less these
are the overdue ones). Towns, items and the county total are sums of those groups in Python (at most
towns × items rows, never one row per case). Definitions — the JSON, the CSV and the page
use the same ones:

- Cases by stage: the cases' current stage (erma.cases.stages.Stage).
- Open cases: current stage in OPEN_STAGES (received, town review, returned for correction,
  approved, 容缺 accepted, at the department). Age = time since the case was opened, in whole
  calendar days, counted in buckets [0,3) [3,7) [7,15) [15,30) [30,∞) days; `oldest_days` is the
  age of the oldest open case; `overdue` counts open cases whose promised-date clock is running
  (CLOCK_RUNNING_STAGES: not returned for correction, which waits for the resident and moves the
  promised date on when resubmitted) and whose promised date (expected_completion_date) is before
  today — the one definition (erma.deferral.overdue) the duty lead's list of overdue cases uses.
- On-time completion rate: of the cases that reached `completed` (a transition event into
  completed — later stages delivered/rated/followed_up passed through it), the share completed on
  a China date on or before the case's promised date (expected_completion_date as it stands, i.e.
  already moved on by the pauses while the resident corrected materials).
- Trips (跑动): the in-person visits recorded for a case (erma.cases.visits: handing in, supplementing,
  collecting a result, each with its place; Case.visits is their count). A case with at least one
  recorded trip is "recorded"; the others are 未记录 and left out of the trip figures, since nothing
  says how often their resident came. "最多跑一次" share = recorded cases with at most one trip /
  recorded cases (design §2 rule 8); with no recorded case the share is None (shown 未记录), never
  100 %. Mean trips = trips / recorded cases. Open cases count with the trips recorded so far.
  Places: the trips of the range's cases by the kind of point they were made at (village station,
  town centre, county window; 地点未登记 for trips recorded before places were kept).
- 容缺 share: cases with a deferral / all cases. On-time supplement rate: deferrals whose deferred
  materials arrived on a China date on or before the deadline / deferrals that are due, i.e.
  supplied (on time or late) or overdue (erma.deferral.overdue: not supplied, the deadline before
  today and the case not ended without a result — the duty lead's list and the escalation use the
  same rule). A deferral
  still inside its deadline and not supplied is in neither count.
- Ratings: count per level 5 非常满意 … 1 非常不满意; 差评 = levels 1 and 2 (不满意, 非常不满意),
  the ones that open a follow-up task (erma.followup.service.BAD_LEVELS).
- Ratings with words: ratings whose resident said something beyond the level (Rating.comment not
  blank — erma.followup.service.comment_from), and how many of them are 差评. Published beside the
  groups' figures (`rating_comments` in the JSON: totals, by_town, by_item), not inside them.
- Handoff rate (per case, so it splits by town and item): of the cases opened from a conversation
  (conversation_id set — web chat, WeChat, the assistant), the share whose conversation was ever
  handed to a person, i.e. has at least one handoff request. Every 转人工 records one (resident
  asked, the assistant did not understand, a form was abandoned, the assistant was unavailable).
- Conversation handoff rate (county-wide views only): gateway conversations started in the range
  with at least one handoff request / all gateway conversations started in the range. A
  conversation gets a town only when it is queued for a person, so this figure has no town split.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from erma.cases.models import Case, CaseVisit
from erma.cases.stages import OPEN_STAGES, STAGE_TEXT, Stage
from erma.catalog.models import ServiceItem
from erma.clock import local_midnight_utc, today_local
from erma.dashboard.summary import COLUMN_KEYS, STAGE_COLUMNS, conversations_in_range, counts_in_range, refresh
from erma.db import as_utc, utcnow
from erma.deferral.models import Deferral
from erma.deferral.overdue import case_overdue, deferral_owed_in_time
from erma.errors import Forbidden, ValidationFailed
from erma.followup.service import BAD_LEVELS, LEVELS
from erma.places.models import IntakePoint, Town
from erma.staff.auth import Principal

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
# Open cases' age in days: [low, high) with None = no upper end.
AGE_BUCKETS = (("0-3", 0, 3), ("3-7", 3, 7), ("7-15", 7, 15), ("15-30", 15, 30), ("30+", 30, None))
AGE_TEXT = {"0-3": "3天内", "3-7": "3至7天", "7-15": "7至15天", "15-30": "15至30天", "30+": "30天以上"}
OPEN_VALUES = [s.value for s in OPEN_STAGES]
OPEN_SET = frozenset(OPEN_VALUES)
# Where a resident can walk in (erma.places IntakePoint.kind; online makes no trip).
PLACE_KINDS = {"village_point": "村便民服务站", "town_centre": "镇便民服务中心", "county_window": "县代办点窗口"}
PLACE_UNKNOWN = "地点未登记"

# Additive counts per (town, item) group; everything shown is derived from these.
COUNT_KEYS = (
    ["cases"] + [f"stage:{s.value}" for s in Stage]
    + ["open", "open_overdue"] + [f"age:{key}" for key, _, _ in AGE_BUCKETS]
    + ["completed", "completed_on_time", "visits", "visits_le1", "visits_recorded",
       "deferrals", "deferrals_due", "supplied_on_time"]
    + [f"rating:{level}" for level in sorted(LEVELS)]
    + ["chat_cases", "handed_off", "rating_comments", "poor_rating_comments"]
    + ["deferrals_owed"]  # not shown: owed less owed in time are the overdue ones, added to deferrals_due
)

IDX = {key: i for i, key in enumerate(COUNT_KEYS)}
OPEN_QUERY_KEYS = ["open_overdue"] + [f"age:{key}" for key, _, _ in AGE_BUCKETS]

DEFINITIONS = {
    "cases": "统计区间内新收的办件（按收件日期）",
    "by_stage": "这些办件现在所处的办理阶段",
    "open": "尚未办结的办件（已收件、审核中、退回补正、审核通过、容缺受理、已送部门）；已办天数从收件时算起，超期指已过承诺办结日期仍未办结；退回补正的办件在等群众补齐材料期间暂停计时，不算超期",
    "on_time_rate": "已办结的办件中，在承诺办结日期当天或之前办结的比例（退回补正期间不计时）",
    "visits": "跑动指群众本人到村便民服务站、镇便民服务中心或县代办点窗口递交材料、补交材料、领取结果，每到现场一次记一次；"
              "网上办理和代办员代跑不算。只统计有跑动记录的办件：最多跑一次比例＝跑动一次的办件占有跑动记录办件的比例，"
              "平均跑动次数＝跑动总次数除以有跑动记录的办件数；没有跑动记录的办件记为“未记录”，不计入比例",
    "deferral_share": "容缺受理的办件占全部办件的比例",
    "on_time_supplement_rate": "已补齐或已超期的容缺办件中，在补齐期限当天或之前补齐材料的比例",
    "ratings": "好差评各等级的件数；差评指“不满意”和“非常不满意”",
    "rating_comments": "评价时群众除了选满意程度，还写了意见或理由的评价条数；其中差评指“不满意”和“非常不满意”",
    "visit_places": "统计区间内收件的办件，群众跑动发生在哪类接件点；“地点未登记”是开始登记地点之前记下的跑动",
    "handoff_rate": "经聊天（网页、微信）提交的办件中，该会话曾转人工的比例",
    "conversation_handoff_rate": "统计区间内开始的聊天会话中，曾转人工的比例（仅全县视图）",
}


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    town: str | None  # the one town asked for, if any
    towns: tuple[str, ...] | None  # towns the figures cover; None = the whole county

    @property
    def county_wide(self) -> bool:
        return self.towns is None


@dataclass
class Dashboard:
    filters: Filters
    now: dt.datetime
    town_names: dict[str, str]
    item_names: dict[str, str]
    # (town_code, service_code) → the additive counts of its cases
    cells: dict[tuple[str, str], "Counts"] = field(default_factory=dict)
    conversations: dict | None = None
    # intake point kind → trips of the view's cases made there (those with a recorded place)
    visit_places: dict[str, int] = field(default_factory=dict)


def _parse_date(raw: str | None, name: str, label: str) -> dt.date | None:
    if raw is None or not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed("date_invalid", f"{label}格式不对，请写成 2026-01-31 这样的日期", field=name) from None


def resolve_filters(session: Session, principal: Principal, from_raw: str | None, to_raw: str | None,
                    town_raw: str | None, today: dt.date) -> Filters:
    """The date range (default: the last 90 days up to today) and the towns this principal may see.

    Duty leads and admins see the county; reviewers and agents only their own towns, and asking
    for another town is refused (403) rather than silently answered with nothing."""
    end = _parse_date(to_raw, "to", "结束日期") or today
    start = _parse_date(from_raw, "from", "开始日期") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed("date_range_invalid", "开始日期不能晚于结束日期", field="from")
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed("date_range_too_long", "统计区间最长三年，请缩短日期范围", field="from")
    town = None
    if town_raw and town_raw.strip():
        wanted = town_raw.strip()
        town = session.scalar(select(Town.code).where((Town.code == wanted) | (Town.name == wanted)))
        if town is None:
            raise ValidationFailed("town_unknown", f"没有“{wanted}”这个镇", field="town")
        if not principal.can_see_town(town):
            raise Forbidden("town_forbidden", "您只能查看本镇的统计")
    if town is not None:
        towns: tuple[str, ...] | None = (town,)
    elif principal.county_wide:
        towns = None
    else:
        towns = tuple(sorted(principal.towns))
    return Filters(start=start, end=end, town=town, towns=towns)


def _count(condition):
    return func.count().filter(condition)


def _range(filters: Filters):
    conditions = [Case.created_at >= local_midnight_utc(filters.start),
                  Case.created_at < local_midnight_utc(filters.end + dt.timedelta(days=1))]
    if filters.towns is not None:
        conditions.append(Case.hukou_town_code.in_(filters.towns))
    return conditions


def _owed_in_time_query(filters: Filters, today: dt.date):
    """Deferrals still owed but inside their deadline (erma.deferral.overdue), per (town, item): the owed
    ones in the summary less these are the overdue ones. Few whatever the county's history (the
    deferrals of the last weeks), found on the partial index of unsupplied deferrals by deadline."""
    return (select(Case.hukou_town_code, Case.service_code, func.count())
            .join(Deferral, Deferral.case_id == Case.id)
            .where(*_range(filters), deferral_owed_in_time(today))
            .group_by(Case.hukou_town_code, Case.service_code))


def _open_query(filters: Filters, now: dt.datetime, today: dt.date):
    """Age and lateness of the open cases (a small share of all) per (town, item)."""
    ages = []
    for key, low, high in AGE_BUCKETS:
        cond = Case.created_at <= now - dt.timedelta(days=low)
        if high is not None:
            cond = and_(cond, Case.created_at > now - dt.timedelta(days=high))
        ages.append(_count(cond).label(f"age:{key}"))
    return (select(Case.hukou_town_code.label("town"), Case.service_code.label("item"),
                   _count(case_overdue(today))
                   .label("open_overdue"), *ages,
                   func.min(Case.created_at).label("oldest"))
            # PostgreSQL reads only the open stages' entries of the (stage, promised date) index, which
            # carries the columns read here (migration 0018): a few per cent of all cases.
            .where(*_range(filters), Case.stage.in_(OPEN_VALUES))
            .group_by(Case.hukou_town_code, Case.service_code))


def _visit_places_query(filters: Filters):
    """The trips of the range's cases with a recorded place, per kind of intake point."""
    return (select(IntakePoint.kind, func.count())
            .select_from(CaseVisit)
            .join(Case, Case.id == CaseVisit.case_id)
            .join(IntakePoint, IntakePoint.code == CaseVisit.intake_point_code)
            .where(*_range(filters))
            .group_by(IntakePoint.kind))


def _conversation_figures(session: Session, filters: Filters) -> dict:
    total, handed_off = session.execute(conversations_in_range(filters.start, filters.end)).one()
    return {"conversations": total, "handed_off": handed_off, "rate": rate(handed_off, total)}


class Counts:
    """The additive counts of one group of cases, in COUNT_KEYS order, and its oldest open case."""

    __slots__ = ("values", "oldest")

    def __init__(self) -> None:
        self.values = [0] * len(COUNT_KEYS)
        self.oldest: dt.datetime | None = None

    def __getitem__(self, key: str) -> int:
        return self.values[IDX[key]]

    @classmethod
    def total(cls, parts: list["Counts"]) -> "Counts":
        """The sum of `parts`, column by column (one pass per count, not one list per part)."""
        counts = cls()
        if parts:
            counts.values = [sum(column) for column in zip(*[p.values for p in parts])]
            counts.oldest = min((p.oldest for p in parts if p.oldest is not None), default=None)
        return counts


def compute(session: Session, filters: Filters, now: dt.datetime | None = None) -> Dashboard:
    now = as_utc(now) or utcnow()
    today = today_local(now)
    town_names = dict(session.execute(select(Town.code, Town.name).order_by(Town.code)).all())
    item_names = dict(session.execute(select(ServiceItem.code, ServiceItem.name)).all())
    board = Dashboard(filters=filters, now=now, town_names=town_names, item_names=item_names)
    cells = board.cells
    refresh(session)  # recompute the days whose cases changed since the last look
    if session.get_bind().dialect.name == "postgresql":
        # psycopg prepares a statement run five times, and PostgreSQL then plans it once for any
        # parameters: for the live queries below that plan read every case of the range (0.8 s at a
        # million cases instead of 20 ms). Planned with the values each time, for this transaction only.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    # A row per (town, item): the summary's columns, then its cases by stage.
    targets = [IDX[key] for key in COLUMN_KEYS.values()] + [IDX[f"stage:{stage}"] for stage in STAGE_COLUMNS]
    open_at = IDX["open"]
    open_columns = [len(COLUMN_KEYS) + i for i, stage in enumerate(STAGE_COLUMNS) if stage in OPEN_SET]
    for town, item, *values in session.execute(counts_in_range(filters.start, filters.end, filters.towns)):
        cell = cells[(town, item)] = Counts()
        v = cell.values
        for i, x in zip(targets, values):
            v[i] = x or 0
        v[open_at] = sum(values[i] or 0 for i in open_columns)
    # Due: the supplied ones (already in deferrals_due) and the overdue ones = owed − owed in time.
    due_at, owed_at = IDX["deferrals_due"], IDX["deferrals_owed"]
    for cell in cells.values():
        cell.values[due_at] += cell.values[owed_at]
    for town, item, in_time in session.execute(_owed_in_time_query(filters, today)):
        (cells.get((town, item)) or cells.setdefault((town, item), Counts())).values[due_at] -= in_time
    targets = [IDX[key] for key in OPEN_QUERY_KEYS]
    for town, item, *values, oldest in session.execute(_open_query(filters, now, today)):
        cell = cells.get((town, item)) or cells.setdefault((town, item), Counts())
        for i, x in zip(targets, values):
            cell.values[i] = x
        cell.oldest = as_utc(oldest)
    board.visit_places = dict(session.execute(_visit_places_query(filters)).all())
    if filters.county_wide:
        board.conversations = _conversation_figures(session, filters)
    return board


# ---------------------------------------------------------------- presenting

def _half_up(part: int, whole: int, places: int) -> int:
    """part/whole (neither negative) in units of 10^-places, halves rounded up (四舍五入: 1 of 16 is
    6.3%, where Python's round() gives 6.2%). Exact integer arithmetic: the same result as Decimal's
    ROUND_HALF_UP, at a fraction of its cost over a CSV's thousands of rates."""
    return (2 * part * 10 ** places + whole) // (2 * whole)


def rate(part: int, whole: int) -> float | None:
    """part/whole to four places (a fraction: 0.0625), None when there is nothing to divide by."""
    return _half_up(part, whole, 4) / 10_000 if whole else None


def percent_text(part: int, whole: int) -> str:
    """part/whole as a percentage with one decimal ("6.3"), from the exact fraction; "" for none."""
    if not whole:
        return ""
    tenths = _half_up(100 * part, whole, 1)
    return f"{tenths // 10}.{tenths % 10}"


def mean(total: int, count: int) -> float | None:
    return _half_up(total, count, 2) / 100 if count else None


def figures(counts: Counts, now: dt.datetime) -> dict:
    """The readable figures of one group of cases (a cell, a town, an item or the county)."""
    cases = counts["cases"]
    oldest = counts.oldest
    by_level = {str(level): counts[f"rating:{level}"] for level in sorted(LEVELS, reverse=True)}
    return {
        "cases": cases,
        "by_stage": {s.value: counts[f"stage:{s.value}"] for s in Stage},
        "open": {"count": counts["open"], "overdue": counts["open_overdue"],
                 "age_days": {key: counts[f"age:{key}"] for key, _, _ in AGE_BUCKETS},
                 "oldest_days": (now - oldest).days if oldest is not None else None},
        "completion": {"completed": counts["completed"], "on_time": counts["completed_on_time"],
                       "on_time_rate": rate(counts["completed_on_time"], counts["completed"])},
        "visits": visit_figures(counts),
        "deferral": {"cases": counts["deferrals"], "share": rate(counts["deferrals"], cases),
                     "due": counts["deferrals_due"], "supplied_on_time": counts["supplied_on_time"],
                     "on_time_supplement_rate": rate(counts["supplied_on_time"], counts["deferrals_due"])},
        "ratings": {"count": sum(by_level.values()), "by_level": by_level,
                    "bad": sum(counts[f"rating:{level}"] for level in BAD_LEVELS)},
        "handoff": {"chat_cases": counts["chat_cases"], "handed_off": counts["handed_off"],
                    "rate": rate(counts["handed_off"], counts["chat_cases"])},
    }


def visit_figures(counts: Counts) -> dict:
    """Trips of a group: over its cases with a recorded trip only; the others are counted as 未记录."""
    recorded = counts["visits_recorded"]
    return {"total": counts["visits"], "recorded": recorded, "unrecorded": counts["cases"] - recorded,
            "mean": mean(counts["visits"], recorded),
            "at_most_one": counts["visits_le1"], "at_most_one_share": rate(counts["visits_le1"], recorded)}


def place_figures(board: Dashboard, trips: int) -> dict:
    """The view's `trips` by kind of place, every kind listed (0 too) so the page's rows stay put.
    Trips without a place — recorded before places were kept, or counted on the case by a bulk load
    with no trip row — are 地点未登记, so the kinds add up to the trips the other figures count."""
    places = board.visit_places
    rows = [{"kind": kind, "kind_text": text, "visits": places.get(kind, 0)} for kind, text in PLACE_KINDS.items()]
    rows.append({"kind": None, "kind_text": PLACE_UNKNOWN, "visits": max(trips - sum(r["visits"] for r in rows), 0)})
    return {"total": sum(r["visits"] for r in rows), "by_kind": rows}


def comment_figures(counts: Counts) -> dict:
    """How many of a group's ratings came with the resident's words, and how many of those are 差评."""
    return {"with_comment": counts["rating_comments"], "bad_with_comment": counts["poor_rating_comments"]}


def group_sums(board: Dashboard) -> tuple[dict[str, Counts], dict[str, Counts], Counts]:
    """The cells summed per town (every town in view, even without cases), per item, and in all."""
    f = board.filters
    visible_towns = list(f.towns) if f.towns is not None else list(board.town_names)
    town_cells: dict[str, list[Counts]] = {code: [] for code in visible_towns}
    item_cells: dict[str, list[Counts]] = {}
    for (town, item), cell in board.cells.items():
        town_cells.setdefault(town, []).append(cell)
        item_cells.setdefault(item, []).append(cell)
    by_town = {code: Counts.total(cells) for code, cells in town_cells.items()}
    by_item = {code: Counts.total(cells) for code, cells in item_cells.items()}
    return by_town, by_item, Counts.total(list(board.cells.values()))


def as_json(board: Dashboard) -> dict:
    f = board.filters
    visible_towns = list(f.towns) if f.towns is not None else list(board.town_names)
    by_town, by_item, total = group_sums(board)
    items = sorted(by_item.items(), key=lambda kv: (-kv[1]["cases"], kv[0]))
    return {
        "from": f.start.isoformat(), "to": f.end.isoformat(), "town": f.town,
        "scope": "county" if f.county_wide else "towns", "towns": visible_towns,
        "generated_at": board.now.isoformat(),
        "stage_text": {s.value: STAGE_TEXT[s] for s in Stage},
        "age_text": AGE_TEXT,
        "level_text": {str(level): text for level, text in LEVELS.items()},
        "definitions": DEFINITIONS,
        "totals": figures(total, board.now),
        "by_town": [{"town_code": code, "town_name": board.town_names.get(code, code), **figures(c, board.now)}
                    for code, c in sorted(by_town.items())],
        "by_item": [{"service_code": code, "service_name": board.item_names.get(code, code), **figures(c, board.now)}
                    for code, c in items],
        "conversations": board.conversations,
        # Beside the groups' figures rather than inside their "ratings": keyed by the same codes.
        "rating_comments": {
            "totals": comment_figures(total),
            "by_town": {code: comment_figures(c) for code, c in sorted(by_town.items())},
            "by_item": {code: comment_figures(c) for code, c in items},
        },
        "visit_places": place_figures(board, total["visits"]),
    }
