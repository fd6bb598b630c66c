"""The dashboard's daily summary stays true: every kind of change made after the dashboard was looked
at shows on the next look (checked against the figures recomputed from the records), the summary the
changes leave equals one rebuilt from scratch, cases written past the platform are counted after
`python -m erma dashboard-rebuild`, and a change committed while a refresh runs is not lost."""
from __future__ import annotations

import datetime as dt
import pytest
from sqlalchemy import event, func, select, text

from erma.__main__ import main as erma_main
from erma.cases.models import Case
from erma.cases.visits import record_visit
from erma.cases.stages import Stage
from erma.conversations.handoff import request_handoff
from erma.conversations.models import Conversation, HandoffRequest
from erma.conversations.service import open_conversation
from erma.clock import today_local
from erma.dashboard.models import DayCounts, SpanCounts, StaleDay
from erma.dashboard.summary import SPANS, _span_after, mark_all, refresh, spans_of
from erma.db import utcnow
from erma.deferral.models import Deferral
from erma.deferral.service import record_supplement
from erma.outbox.worker import refresh_dashboard
from erma.review.service import decide
from tests.platform.test_dashboard import CB, NX, TM, _expected, _local_date, _now_of, _strip, seed

YEAR = 365


def _look(client, login) -> dict:
    today = today_local()
    r = client.get("/api/v1/dashboard", params={"from": (today - dt.timedelta(days=YEAR)).isoformat()},
                   headers=login("lead-1"))
    assert r.status_code == 200, r.text
    return r.json()


def _conversations(s, start: dt.date, end: dt.date) -> dict:
    handed = {h.conversation_id for h in s.scalars(select(HandoffRequest))}
    started = [c.id for c in s.scalars(select(Conversation)) if start <= _local_date(c.created_at) <= end]
    n, k = len(started), sum(1 for cid in started if cid in handed)
    return {"conversations": n, "handed_off": k, "rate": round(k / n, 4) if n else None}


def _assert_true(client, login, db, start: dt.date | None = None, end: dt.date | None = None) -> dict:
    today = today_local()
    start, end = start or today - dt.timedelta(days=YEAR), end or today
    r = client.get("/api/v1/dashboard", params={"from": start.isoformat(), "to": end.isoformat()},
                   headers=login("lead-1"))
    assert r.status_code == 200, r.text
    body = r.json()
    with db() as s:
        want = _expected(s, start, end, None, _now_of(body))
        assert body["conversations"] == _conversations(s, start, end)
    assert body["totals"] == want["totals"], (start, end)
    by_town = {t["town_code"]: _strip(t) for t in body["by_town"] if t["cases"]}
    assert by_town == want["by_town"]
    assert {i["service_code"]: _strip(i) for i in body["by_item"]} == want["by_item"]
    return body


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    month = day.replace(day=1)
    for _ in range(back):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


def test_ranges_cut_anywhere_in_a_month_give_the_same_figures(client, login, db):
    """Whole months are read from month rows, the ends from day rows: no case counted twice or missed."""
    with db() as s:
        seed(s, utcnow())
    today = today_local()
    this_month = _month_start(today)
    ranges = [
        (_month_start(today, 3), _month_start(today, 2) - dt.timedelta(days=1)),  # exactly one month
        (_month_start(today, 3), today),  # whole months, then this month's days
        (_month_start(today, 3) + dt.timedelta(days=9), this_month - dt.timedelta(days=1)),  # days, then months
        (_month_start(today, 7) + dt.timedelta(days=14), today - dt.timedelta(days=40)),  # days, months, days
        (this_month - dt.timedelta(days=1), this_month),  # across a month's end only
        (_month_start(today, 2) + dt.timedelta(days=3), _month_start(today, 2) + dt.timedelta(days=20)),
        (today - dt.timedelta(days=3 * 365), today),  # the longest range allowed
        # Read through dekads, quarters and a whole year (summary.spans_of); the seed spans 200 days.
        (today.replace(month=1, day=1), today),
        (today.replace(year=today.year - 1, month=1, day=1), today),
        (_month_start(today, 6) + dt.timedelta(days=10), _month_start(today, 1) + dt.timedelta(days=19)),
        (_month_start(today, 5) + dt.timedelta(days=20), today - dt.timedelta(days=11)),
    ]
    tiled = set()
    for start, end in ranges:
        _assert_true(client, login, db, start, end)
        tiled |= {span for span, _ in spans_of(start, end)}
    assert tiled == set(SPANS)  # every kind of span was read at least once


def test_the_spans_tile_any_range_exactly_once():
    """Every day of a range lies in exactly one of its spans, and no span reaches outside it."""
    day = dt.date(2023, 12, 17)
    for start in [day + dt.timedelta(days=k) for k in range(0, 800, 13)]:
        for length in (1, 2, 9, 10, 11, 29, 31, 45, 90, 92, 365, 366, 400, 3 * 366 - 1):
            end = start + dt.timedelta(days=length - 1)
            covered = []
            for span, first in spans_of(start, end):
                after = _span_after(span, first)
                covered += [first + dt.timedelta(days=k) for k in range((after - first).days)]
            assert covered == [start + dt.timedelta(days=k) for k in range(length)], (start, end)


def _summary_rows(s) -> list[tuple]:
    return [tuple(r) for r in s.execute(select(DayCounts.__table__).order_by(
        DayCounts.day, DayCounts.town_code, DayCounts.service_code, DayCounts.stage))] + \
        [tuple(r) for r in s.execute(select(SpanCounts.__table__).order_by(
            SpanCounts.span, SpanCounts.first_day, SpanCounts.town_code, SpanCounts.service_code))]


def _case(s, town: str, code: str, stage: str) -> Case:
    return s.scalars(select(Case).where(Case.hukou_town_code == town, Case.service_code == code,
                                        Case.stage == stage).order_by(Case.id)).first()


def test_each_kind_of_change_shows_on_the_next_look(client, login, db):
    now = utcnow()
    with db() as s:
        sd = seed(s, now)
    before = _assert_true(client, login, db)
    with db() as s:
        assert s.scalar(select(StaleDay.id).limit(1)) is None  # the look consumed every mark
    steps = []

    with db() as s:  # a case in review is approved, sent on and completed
        c = _case(s, NX, "MX-001", Stage.TOWN_REVIEW.value)
        sd.s = s
        sd.complete(c, now - dt.timedelta(hours=3), now - dt.timedelta(hours=1))
    steps.append(_assert_true(client, login, db))
    assert steps[-1]["totals"]["completion"]["completed"] == before["totals"]["completion"]["completed"] + 1

    with db() as s:  # a trip to the counter
        sd.s = s
        sd.visits(_case(s, TM, "MX-030", Stage.TOWN_REVIEW.value), 2)
    steps.append(_assert_true(client, login, db))
    assert steps[-1]["totals"]["visits"]["total"] == steps[-2]["totals"]["visits"]["total"] + 2

    with db() as s:  # the 容缺 materials still ahead of their deadline arrive
        sd.s = s
        d = s.scalars(select(Deferral).where(Deferral.supplied_at.is_(None)).order_by(Deferral.deadline.desc())).first()
        case = s.get(Case, d.case_id)
        record_supplement(s, case, sd.agent(case), now=now - dt.timedelta(minutes=30))
        s.commit()
    steps.append(_assert_true(client, login, db))
    assert steps[-1]["totals"]["deferral"]["due"] == steps[-2]["totals"]["deferral"]["due"] + 1

    with db() as s:  # the case just completed is rated 不满意
        sd.s = s
        c = _case(s, NX, "MX-001", Stage.COMPLETED.value)
        sd.rate(c, 2, now - dt.timedelta(minutes=20))
        s.commit()
    steps.append(_assert_true(client, login, db))
    assert steps[-1]["totals"]["ratings"]["bad"] == steps[-2]["totals"]["ratings"]["bad"] + 1

    with db() as s:  # the web-chat conversation behind an older case is handed to a person afterwards
        c = _case(s, TM, "MX-030", Stage.TOWN_REVIEW.value)
        # (the case's conversation is not a gateway one: a handoff recorded before those were refused)
        s.add(HandoffRequest(conversation_id=c.conversation_id, channel="web_chat", reason="requested",
                             created_at=now - dt.timedelta(minutes=10)))
        s.commit()
    steps.append(_assert_true(client, login, db))
    assert steps[-1]["totals"]["handoff"]["handed_off"] == steps[-2]["totals"]["handoff"]["handed_off"] + 1

    with db() as s:  # a new conversation that goes to a person at once
        conversation, _ = open_conversation(s, "web_chat", now=now - dt.timedelta(minutes=8))
        request_handoff(s, conversation.id, "web_chat", "requested", now=now - dt.timedelta(minutes=7))
        s.commit()
    steps.append(_assert_true(client, login, db))
    assert steps[-1]["conversations"]["handed_off"] == steps[-2]["conversations"]["handed_off"] + 1

    with db() as s:  # a review decision, and a new case
        sd.s = s
        c = _case(s, CB, "MX-001", Stage.RECEIVED.value) or _case(s, CB, "MX-001", Stage.TOWN_REVIEW.value)
        decide(s, c, sd.reviewer(c), "reject", "不符合条件", now=now - dt.timedelta(minutes=5))
        sd.case(TM, "MX-005", now - dt.timedelta(minutes=2))
        s.commit()
    last = _assert_true(client, login, db)
    assert last["totals"]["cases"] == before["totals"]["cases"] + 1
    assert last["totals"]["by_stage"]["rejected"] == before["totals"]["by_stage"]["rejected"] + 1

    # What the changes left is what a rebuild from the records gives.
    with db() as s:
        kept = _summary_rows(s)
        assert kept and mark_all(s) > 0
        s.commit()
        refresh(s)
        assert _summary_rows(s) == kept


def test_cases_written_past_the_platform_count_after_a_rebuild(client, login, db, capsys):
    with db() as s:
        seed(s, utcnow())
    seeded = _look(client, login)["totals"]["cases"]
    with db() as s, s.begin():  # the summary knows nothing of them, as after a bulk load (COPY)
        for table in ("dashboard_day_counts", "dashboard_span_counts", "dashboard_conversation_days"):
            s.execute(text(f"DELETE FROM {table}"))
    body = _look(client, login)
    assert body["totals"]["cases"] == 0 and body["conversations"]["conversations"] == 0
    erma_main(["dashboard-rebuild"])
    assert "统计看板每日汇总已重算完毕" in capsys.readouterr().out
    assert _look(client, login)["totals"]["cases"] == seeded
    _assert_true(client, login, db)


def test_a_change_committed_while_a_refresh_runs_keeps_its_mark(client, login, db):
    """PostgreSQL (READ COMMITTED): a change committed after the refresher read the marks, but before
    it removed them, is not in what it computed, so its mark must outlive this refresh."""
    with db() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("two concurrent writers need PostgreSQL; SQLite runs one writer at a time")
        sd = seed(s, utcnow())
    _look(client, login)
    with db() as s:  # something for the refresher to do
        sd.s = s
        sd.visits(_case(s, CB, "MX-001", Stage.COMPLETED.value), 1)
    writer = db()
    sd.s = writer
    c = writer.scalars(select(Case).where(Case.stage == Stage.TOWN_REVIEW.value).order_by(Case.id)).first()
    for _ in range(3):  # three trips recorded, not yet committed
        record_visit(writer, c, sd.agent(c), "supplement")
    writer.flush()  # the change and its mark are written, not yet committed

    refresher = db()
    committed = []

    @event.listens_for(refresher.connection(), "after_execute")
    def commit_the_writer_midway(conn, clauseelement, *_args):  # noqa: ANN001
        if not committed and "INSERT INTO dashboard_day_counts" in str(clauseelement):
            writer.commit()
            committed.append(True)

    assert refresh(refresher) >= 1
    refresher.close()
    writer.close()
    assert committed
    with db() as s:
        assert s.scalar(select(StaleDay.id).limit(1)) is not None
    _assert_true(client, login, db)  # this look recomputes the writer's day


def _marks(s) -> int:
    return s.scalar(select(func.count()).select_from(StaleDay))


def test_the_worker_keeps_the_summary_fresh_while_nobody_looks(db):
    with db() as s:
        seed(s, utcnow())
        assert _marks(s) > 0
    assert refresh_dashboard(db) >= 1
    with db() as s:
        assert _marks(s) == 0
        assert s.scalar(select(func.sum(DayCounts.cases))) == s.scalar(select(func.count()).select_from(Case))
    assert refresh_dashboard(db) == 0  # nothing changed since


def test_one_mark_per_day_and_transaction_and_none_lost_with_a_savepoint(db):
    with db() as s:
        seed(s, utcnow())
    refresh_dashboard(db)
    with db() as s:
        case = s.scalars(select(Case).order_by(Case.id)).first()
        for _ in range(3):
            case.visits += 1
            s.flush()
        s.commit()
        assert _marks(s) == 1
    refresh_dashboard(db)
    with db() as s:
        case = s.scalars(select(Case).order_by(Case.id)).first()
        savepoint = s.begin_nested()
        case.visits += 1
        s.flush()  # marked inside the savepoint ...
        savepoint.rollback()  # ... and the mark is gone with it
        case.visits += 5
        s.flush()
        s.commit()
        assert _marks(s) == 1
