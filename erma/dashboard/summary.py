"""The dashboard's daily summary: additive counts of the cases opened on each China date, per household
town, item and current stage (erma/dashboard/models.DayCounts), and how it is kept true.

Why: the dashboard describes the cases *opened* in a date range. Summing summary rows instead of
joining every case with its completion event, deferral, rating and handoffs keeps a year's view
inside the page budget. The day rows per stage are rolled up into spans (SpanCounts: days, dekads,
months, quarters, years, per town and item with the stages as columns), and a range is read as the
fewest whole spans that tile it: at most about 20 spans × (towns × items) rows for a year, however
many cases the county has (day and month rows per stage grew to ~10^5 for a year at a million cases).
Only counts that follow from the stored records alone are kept; what moves with the clock (open
cases' age and lateness, owed deferrals still inside their deadline) is counted live by metrics.py
over the small sets it concerns, each read from an index of its own. Gateway conversations (the
county-wide handoff rate) are counted per day the same way (ConversationDay).

Freshness: every ORM flush that adds or changes a case, a case event, a trip, a deferral, a rating,
a conversation or a handoff request marks the China dates concerned stale (dashboard_stale_days), in
the same transaction, so a change and its mark commit together. The outbox worker refreshes every
minute and the dashboard before reading: it recomputes the stale days and the spans holding them, and
deletes exactly the marks it saw. SQL written past the ORM (bulk loads such as scripts/seed_bench.py) must
call `mark_all` — `python -m erma dashboard-rebuild`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Date, and_, case, cast, delete, event, func, insert, literal, literal_column, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from erma.cases.models import Case, CaseEvent, CaseVisit
from erma.cases.stages import Stage
from erma.clock import local_midnight_utc, local_zone, today_local
from erma.conversations.models import Conversation, HandoffRequest
from erma.dashboard.models import ConversationDay, DayCounts, SpanCounts, StaleDay
from erma.db import utcnow
from erma.deferral.models import Deferral
from erma.deferral.overdue import deferral_owed
from erma.followup.models import Rating
from erma.followup.service import BAD_LEVELS, LEVELS

COMPLETED_STAGE = Stage.COMPLETED.value
# Summary column → the dashboard's count it adds to (metrics.COUNT_KEYS). Supplied deferrals are
# "due" whatever the date; so are the owed ones past their deadline: metrics adds the owed ones less
# those still in time, a small set counted live.
COLUMN_KEYS = {
    "cases": "cases", "completed": "completed", "completed_on_time": "completed_on_time",
    "visits": "visits", "visits_le1": "visits_le1", "deferrals": "deferrals",
    "deferrals_supplied": "deferrals_due", "supplied_on_time": "supplied_on_time",
    **{f"rating_{level}": f"rating:{level}" for level in sorted(LEVELS)},
    "chat_cases": "chat_cases", "handed_off": "handed_off",
    "rating_comments": "rating_comments", "poor_rating_comments": "poor_rating_comments",
    "visits_recorded": "visits_recorded", "deferrals_owed": "deferrals_owed",
}
# Span columns holding the cases by current stage, and the spans from the finest up: each is a whole
# number of the one before it (a dekad is the 1st–10th, 11th–20th or 21st–end of a month).
STAGE_COLUMNS = {s.value: f"stage_{s.value}" for s in Stage}
assert all(hasattr(SpanCounts, c) for c in STAGE_COLUMNS.values()), "a stage without its SpanCounts column"
SPANS = ("day", "dekad", "month", "quarter", "year")
# Any key will do: it only has to be the same in every process of this platform.
_PG_LOCK_KEY = 0x45524D41  # "ERMA"


# ---------------------------------------------------------------- SQL helpers

def _offset_minutes() -> int:
    # China keeps one offset all year; reading it off the zone keeps ERMA_TIMEZONE honoured.
    return int(utcnow().astimezone(local_zone()).utcoffset().total_seconds() // 60)


def local_date(column, dialect: str):
    """The China date of a stored UTC timestamp, in SQL.

    The offset is written literally (not a bound parameter): PostgreSQL must see the expression in
    GROUP BY as the very one selected. Plain arithmetic, because a named-zone conversion per row cost
    PostgreSQL more than the rest of the aggregates together."""
    minutes = _offset_minutes()
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column) + literal_column(f"INTERVAL '{minutes} minutes'"), Date)
    return func.date(column, literal_column(f"'{minutes:+d} minutes'"))  # SQLite keeps UTC as text


def _count(condition):
    return func.count().filter(condition)


def _handed(conversation_id):
    """The conversation was ever handed to a person: a correlated EXISTS, which PostgreSQL answers by an
    index probe per row (or a hash when the requests fit in work_mem). Not `IN (SELECT …)`: once the
    requests no longer fit in work_mem, PostgreSQL ran that as a plain subplan rescanning every request
    for every case, and the first rebuild at a million cases did not finish in ten minutes."""
    return select(HandoffRequest.id).where(HandoffRequest.conversation_id == conversation_id).exists()


def _day_counts_query(first: dt.date, last: dt.date, dialect: str):
    """The summary rows of the cases opened from `first` to `last` (China dates, inclusive)."""
    start, end = local_midnight_utc(first), local_midnight_utc(last + dt.timedelta(days=1))
    # The lifecycle enters `completed` once at most (nothing leads back), so this join adds no rows;
    # completion never precedes opening, so older events are skipped.
    completed = (select(CaseEvent.case_id.label("case_id"), CaseEvent.at.label("at"))
                 .where(CaseEvent.to_stage == COMPLETED_STAGE, CaseEvent.at >= start).subquery("completed"))
    # A rating "with words": the resident said something beyond the level (Rating.comment not blank).
    has_words = and_(Rating.comment.is_not(None), func.trim(Rating.comment) != "")
    day = local_date(Case.created_at, dialect)
    columns = {
        "cases": func.count(),
        "completed": _count(completed.c.case_id.is_not(None)),
        "completed_on_time": _count(local_date(completed.c.at, dialect) <= Case.expected_completion_date),
        "visits": func.coalesce(func.sum(Case.visits), 0),
        # 最多跑一次 is measured over the cases with a recorded trip only (Case.visits counts the
        # case_visits rows): a case with none is 未记录, not a success. So "at most one" is exactly one.
        "visits_le1": _count(Case.visits == 1),
        "deferrals": _count(Deferral.id.is_not(None)),
        "deferrals_supplied": _count(Deferral.supplied_at.is_not(None)),
        "supplied_on_time": _count(and_(Deferral.supplied_at.is_not(None),
                                        local_date(Deferral.supplied_at, dialect) <= Deferral.deadline)),
        **{f"rating_{level}": _count(Rating.level == level) for level in sorted(LEVELS)},
        "chat_cases": _count(Case.conversation_id.is_not(None)),
        "handed_off": _count(_handed(Case.conversation_id)),
        "rating_comments": _count(has_words),
        "poor_rating_comments": _count(and_(has_words, Rating.level.in_(sorted(BAD_LEVELS)))),
        "visits_recorded": _count(Case.visits >= 1),
        "deferrals_owed": _count(and_(Deferral.id.is_not(None), deferral_owed())),
    }
    # In INSERT_COLUMNS order: the rows are inserted by position.
    return (select(day.label("day"), Case.hukou_town_code, Case.service_code, Case.stage,
                   *[columns[name].label(name) for name in COLUMN_KEYS])
            .select_from(Case)
            .outerjoin(completed, completed.c.case_id == Case.id)
            .outerjoin(Deferral, Deferral.case_id == Case.id)
            .outerjoin(Rating, Rating.case_id == Case.id)
            .where(Case.created_at >= start, Case.created_at < end)
            .group_by(day, Case.hukou_town_code, Case.service_code, Case.stage))


INSERT_COLUMNS = ["day", "town_code", "service_code", "stage", *COLUMN_KEYS]


def _span_first(span: str, day: dt.date) -> dt.date:
    """The first day of the `span` holding `day`."""
    if span == "day":
        return day
    if span == "dekad":
        return day.replace(day=min((day.day - 1) // 10 * 10 + 1, 21))
    if span == "month":
        return day.replace(day=1)
    if span == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _span_after(span: str, first: dt.date) -> dt.date:
    """The day after the `span` starting on `first`."""
    if span == "day":
        return first + dt.timedelta(days=1)
    if span == "dekad" and first.day < 21:
        return first + dt.timedelta(days=10)
    if span in ("dekad", "month"):
        return _next_month(first)
    if span == "quarter":
        return _next_month(_next_month(_next_month(first)))
    return first.replace(year=first.year + 1)


def spans_of(start: dt.date, end: dt.date) -> list[tuple[str, dt.date]]:
    """The fewest whole spans that tile `start`..`end` (inclusive): from each day, the largest span that
    starts there and ends inside the range (the spans nest, so taking the largest first is optimal)."""
    tiles = []
    day = start
    while day <= end:
        span = next(span for span in reversed(SPANS)
                    if _span_first(span, day) == day and _span_after(span, day) <= end + dt.timedelta(days=1))
        tiles.append((span, day))
        day = _span_after(span, day)
    return tiles


SPAN_COLUMNS = [*COLUMN_KEYS, *STAGE_COLUMNS.values()]


def _day_spans_query(first: dt.date, last: dt.date):
    """The day spans from `first` to `last`: the day rows with their stages turned into columns."""
    return (select(literal("day").label("span"), DayCounts.day, DayCounts.town_code, DayCounts.service_code,
                   *[func.sum(getattr(DayCounts, c)).label(c) for c in COLUMN_KEYS],
                   *[func.sum(case((DayCounts.stage == stage, DayCounts.cases), else_=0)).label(column)
                     for stage, column in STAGE_COLUMNS.items()])
            .where(DayCounts.day >= first, DayCounts.day <= last)
            .group_by(DayCounts.day, DayCounts.town_code, DayCounts.service_code))


def _span_query(span: str, first: dt.date):
    """A span's rows: the sums of the spans one size down inside it."""
    child = SPANS[SPANS.index(span) - 1]
    return (select(literal(span).label("span"), literal(first, Date).label("first_day"),
                   SpanCounts.town_code, SpanCounts.service_code,
                   *[func.sum(getattr(SpanCounts, c)).label(c) for c in SPAN_COLUMNS])
            .where(SpanCounts.span == child, SpanCounts.first_day >= first,
                   SpanCounts.first_day < _span_after(span, first))
            .group_by(SpanCounts.town_code, SpanCounts.service_code))


def _conversation_days_query(first: dt.date, last: dt.date, dialect: str):
    day = local_date(Conversation.created_at, dialect)
    return (select(day.label("day"), func.count().label("conversations"),
                   _count(_handed(Conversation.id)).label("handed_off"))
            .where(Conversation.created_at >= local_midnight_utc(first),
                   Conversation.created_at < local_midnight_utc(last + dt.timedelta(days=1)))
            .group_by(day))


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def counts_in_range(start: dt.date, end: dt.date, towns: tuple[str, ...] | None):
    """(town, item, *COLUMN_KEYS sums, *STAGE_COLUMNS sums) over the cases opened from `start` to `end`
    (inclusive), a row per town and item: the sums of the spans that tile the range."""
    tiles = spans_of(start, end)
    conditions = [or_(*[and_(SpanCounts.span == span, SpanCounts.first_day == first) for span, first in tiles])]
    if towns is not None:
        conditions.append(SpanCounts.town_code.in_(towns))
    return (select(SpanCounts.town_code, SpanCounts.service_code,
                   *[func.sum(getattr(SpanCounts, c)) for c in SPAN_COLUMNS])
            .where(*conditions)
            .group_by(SpanCounts.town_code, SpanCounts.service_code))


def conversations_in_range(start: dt.date, end: dt.date):
    """(conversations, handed_off) started from `start` to `end` (inclusive)."""
    return select(func.coalesce(func.sum(ConversationDay.conversations), 0),
                  func.coalesce(func.sum(ConversationDay.handed_off), 0)) \
        .where(ConversationDay.day >= start, ConversationDay.day <= end)


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive dates folded into (first, last) runs, so each run is one range scan."""
    runs: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if runs and day - runs[-1][1] == dt.timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(a, b) for a, b in runs]


# ---------------------------------------------------------------- keeping it true

def refresh(session: Session) -> int:
    """Recompute the stale days (the caller's unit of work commits); returns how many days were recomputed."""
    if session.scalar(select(StaleDay.id).limit(1)) is None:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # One refresher at a time; whoever waited finds the marks gone and has nothing to do.
        session.execute(select(func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
        # The rebuild's estimated cost is high enough for PostgreSQL to JIT-compile it, which took
        # longer (4.8 s at 100,000 cases) than running it; for this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    marks = session.execute(select(StaleDay.id, StaleDay.day)).all()
    runs = _runs(day for _, day in marks)
    for first, last in runs:
        session.execute(delete(DayCounts.__table__).where(DayCounts.day >= first, DayCounts.day <= last))
        session.execute(insert(DayCounts.__table__).from_select(INSERT_COLUMNS, _day_counts_query(first, last, dialect)))
        session.execute(delete(ConversationDay.__table__).where(ConversationDay.day >= first, ConversationDay.day <= last))
        session.execute(insert(ConversationDay.__table__).from_select(
            ["day", "conversations", "handed_off"], _conversation_days_query(first, last, dialect)))
    span_insert = ["span", "first_day", "town_code", "service_code", *SPAN_COLUMNS]
    for first, last in runs:
        session.execute(delete(SpanCounts.__table__).where(
            SpanCounts.span == "day", SpanCounts.first_day >= first, SpanCounts.first_day <= last))
        session.execute(insert(SpanCounts.__table__).from_select(span_insert, _day_spans_query(first, last)))
    for span in SPANS[1:]:  # each from the one below, already recomputed
        for first in sorted({_span_first(span, day) for _, day in marks}):
            session.execute(delete(SpanCounts.__table__).where(SpanCounts.span == span, SpanCounts.first_day == first))
            session.execute(insert(SpanCounts.__table__).from_select(span_insert, _span_query(span, first)))
    ids = [mark_id for mark_id, _ in marks]
    for i in range(0, len(ids), 500):
        session.execute(delete(StaleDay.__table__).where(StaleDay.id.in_(ids[i:i + 500])))
    days = sum((last - first).days + 1 for first, last in runs)
    if dialect == "postgresql" and days > 31:
        # A bulk recompute (a rebuild, a migration): fresh statistics at once, not when autovacuum comes
        # round, or PostgreSQL plans the range sums for a near-empty table (a sort where a hash does).
        session.execute(text("ANALYZE dashboard_day_counts, dashboard_span_counts, dashboard_conversation_days"))
    return days


def mark_days(session: Session, days: Iterable[dt.date]) -> None:
    rows = [{"day": day} for day in sorted(set(days))]
    if rows:
        session.execute(insert(StaleDay.__table__), rows)


def mark_all(session: Session) -> int:
    """Forget the summary and mark every day with cases or conversations (after SQL that bypassed the
    ORM, or to rebuild from scratch)."""
    dialect = session.get_bind().dialect.name
    days: set[dt.date] = set()
    for column in (Case.created_at, Conversation.created_at):
        for d in session.scalars(select(local_date(column, dialect)).distinct()):
            if d is not None:
                days.add(d if isinstance(d, dt.date) else dt.date.fromisoformat(d))  # SQLite: text
    for table in (DayCounts, SpanCounts, ConversationDay):
        session.execute(delete(table.__table__))
    mark_days(session, days)
    return len(days)


def _days_touched(session: Session) -> set[dt.date]:
    """The opening days of the cases whose figures this flush may change."""
    days: set[dt.date] = set()
    case_ids: set[int] = set()
    conversations: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Case):
            days.add(today_local(obj.created_at))  # a new case (created_at None) gets now at insert
        elif isinstance(obj, (CaseEvent, CaseVisit, Deferral, Rating)):
            case = obj.__dict__.get("case")  # a loaded relationship only: never a lazy load mid-flush
            if case is not None and case.created_at is not None:
                days.add(today_local(case.created_at))
            elif obj.case_id is not None:
                case_ids.add(obj.case_id)
        elif isinstance(obj, Conversation) and obj in session.new:
            days.add(today_local(obj.created_at))  # only its start date counts
        elif isinstance(obj, HandoffRequest) and obj.conversation_id:
            conversations.add(obj.conversation_id)
    # Autoflush is off while flushing, so these lookups cannot recurse.
    moments = []
    ids = sorted(case_ids)
    for i in range(0, len(ids), 500):
        moments += session.scalars(select(Case.created_at).where(Case.id.in_(ids[i:i + 500]))).all()
    if conversations:  # its cases' figures, and the day the conversation started
        wanted = sorted(conversations)
        moments += session.scalars(select(Case.created_at).where(Case.conversation_id.in_(wanted))).all()
        moments += session.scalars(select(Conversation.created_at).where(Conversation.id.in_(wanted))).all()
    days.update(today_local(m) for m in moments if m is not None)
    return days


_MARKED = "dashboard_marked_days"  # session.info: days already marked in the open transaction


def _before_flush(session: Session, _context, _instances) -> None:
    # One mark per day per transaction is enough: it commits or rolls back with all the changes.
    marked = session.info.setdefault(_MARKED, set())
    days = _days_touched(session) - marked
    mark_days(session, days)
    marked |= days


def _forget_marks(session: Session, transaction) -> None:
    # The real transaction's end, or a savepoint's (a mark inside a rolled-back savepoint is gone);
    # not the subtransaction every flush opens.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_MARKED, None)


def watch(factory: sessionmaker) -> None:
    """Make every session of `factory` mark the days its changes touch."""
    event.listen(factory, "before_flush", _before_flush)
    event.listen(factory, "after_transaction_end", _forget_marks)
