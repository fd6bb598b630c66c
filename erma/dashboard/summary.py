"""The dashboard's daily summary: additive counts of the cases opened on each China date, per household
town, item and current stage (erma/dashboard/models.DayCounts), and how it is kept true.

Why: the dashboard describes the cases *opened* in a date range. Summing summary rows — a row per
month for the range's whole months, per day for the days at its ends — instead of joining every case
with its completion event, deferral, rating and handoffs keeps a year's view with 100,000 cases
inside the page budget. Only counts that follow from the stored records alone are kept; what moves
with the clock (open cases' age and lateness, deferrals past their deadline) is counted live by
metrics.py over the small sets it concerns. Gateway conversations (the county-wide handoff rate)
are counted per day the same way (ConversationDay).

Freshness: every ORM flush that adds or changes a case, a case event, a trip, a deferral, a rating,
a conversation or a handoff request marks the China dates concerned stale (dashboard_stale_days), in
the same transaction, so a change and its mark commit together. The outbox worker refreshes every
minute and the dashboard before reading: it recomputes the stale days and their months and deletes
exactly the marks it saw. SQL written past the ORM (bulk loads such as scripts/seed_bench.py) must
call `mark_all` — `python -m erma dashboard-rebuild`.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Date, and_, cast, delete, event, func, insert, literal, literal_column, select, text, union_all
from sqlalchemy.orm import Session, sessionmaker

from erma.cases.models import Case, CaseEvent, CaseVisit
from erma.cases.stages import Stage
from erma.clock import local_midnight_utc, local_zone, today_local
from erma.conversations.models import Conversation, HandoffRequest
from erma.dashboard.models import ConversationDay, DayCounts, MonthCounts, StaleDay
from erma.db import utcnow
from erma.deferral.models import Deferral
from erma.followup.models import Rating
from erma.followup.service import BAD_LEVELS, LEVELS

COMPLETED_STAGE = Stage.COMPLETED.value
# Summary column → the dashboard's count it adds to (metrics.COUNT_KEYS). Supplied deferrals are
# "due" whatever the date; the unsupplied ones past their deadline are added live.
COLUMN_KEYS = {
    "cases": "cases", "completed": "completed", "completed_on_time": "completed_on_time",
    "visits": "visits", "visits_le1": "visits_le1", "deferrals": "deferrals",
    "deferrals_supplied": "deferrals_due", "supplied_on_time": "supplied_on_time",
    **{f"rating_{level}": f"rating:{level}" for level in sorted(LEVELS)},
    "chat_cases": "chat_cases", "handed_off": "handed_off",
    "rating_comments": "rating_comments", "poor_rating_comments": "poor_rating_comments",
    "visits_recorded": "visits_recorded",
}
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
GROUP_COLUMNS = ["town_code", "service_code", "stage"]


def _month_counts_query(month: dt.date):
    """A month's rows: the sums of its days' rows."""
    return (select(literal(month, Date).label("month"), *[getattr(DayCounts, c) for c in GROUP_COLUMNS],
                   *[func.sum(getattr(DayCounts, c)).label(c) for c in COLUMN_KEYS])
            .where(DayCounts.day >= month, DayCounts.day < _next_month(month))
            .group_by(*[getattr(DayCounts, c) for c in GROUP_COLUMNS]))


def _conversation_days_query(first: dt.date, last: dt.date, dialect: str):
    day = local_date(Conversation.created_at, dialect)
    return (select(day.label("day"), func.count().label("conversations"),
                   _count(_handed(Conversation.id)).label("handed_off"))
            .where(Conversation.created_at >= local_midnight_utc(first),
                   Conversation.created_at < local_midnight_utc(last + dt.timedelta(days=1)))
            .group_by(day))


def _month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def counts_in_range(start: dt.date, end: dt.date, towns: tuple[str, ...] | None):
    """(town, item, stage, *COLUMN_KEYS sums) over the cases opened from `start` to `end` (inclusive):
    month rows for the whole months inside the range, day rows for the rest."""
    first_month = start if start.day == 1 else _next_month(start)
    months = []
    month = first_month
    while _next_month(month) - dt.timedelta(days=1) <= end:
        months.append(month)
        month = _next_month(month)
    parts = []

    def rows(table, key, low, high):
        conditions = [key >= low, key <= high]
        if towns is not None:
            conditions.append(table.town_code.in_(towns))
        return select(*[getattr(table, c) for c in GROUP_COLUMNS], *[getattr(table, c) for c in COLUMN_KEYS]) \
            .where(*conditions)

    if months:
        parts.append(rows(MonthCounts, MonthCounts.month, months[0], months[-1]))
        if start < months[0]:
            parts.append(rows(DayCounts, DayCounts.day, start, months[0] - dt.timedelta(days=1)))
        after = _next_month(months[-1])
        if after <= end:
            parts.append(rows(DayCounts, DayCounts.day, after, end))
    else:
        parts.append(rows(DayCounts, DayCounts.day, start, end))
    both = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("counts")
    return (select(*[both.c[c] for c in GROUP_COLUMNS], *[func.sum(both.c[c]) for c in COLUMN_KEYS])
            .group_by(*[both.c[c] for c in GROUP_COLUMNS]))


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
    for month in sorted({_month_of(day) for _, day in marks}):
        session.execute(delete(MonthCounts.__table__).where(MonthCounts.month == month))
        session.execute(insert(MonthCounts.__table__).from_select(["month", *GROUP_COLUMNS, *COLUMN_KEYS],
                                                                  _month_counts_query(month)))
    ids = [mark_id for mark_id, _ in marks]
    for i in range(0, len(ids), 500):
        session.execute(delete(StaleDay.__table__).where(StaleDay.id.in_(ids[i:i + 500])))
    return sum((last - first).days + 1 for first, last in runs)


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
    for table in (DayCounts, MonthCounts, ConversationDay):
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
