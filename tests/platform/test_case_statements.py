"""What opening a case and the public status lookup cost in SQL statements: a guard on the figures in
docs/benchmarks.md ("Flat cost up to a million cases"), where each round trip to PostgreSQL counts.
Opening a case (no materials) used to run 39 statements on SQLite (the catalog item read 7 times, the
town 3 times), now 21; a status lookup 7 or 8 (the item and the town twice; an ended case's day), now 1."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

import erma.db as erma_db
from erma.clock import today_local
from tests.platform.conftest import SERVICE, VALID_ID, case_body

# Transaction control (BEGIN, SAVEPOINT …) is not counted: SQLite and PostgreSQL send it differently.
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn, cursor, statement, *args):  # noqa: ANN001
        if not statement.lstrip().upper().startswith(CONTROL):
            seen.append(" ".join(statement.split()))

    engine = erma_db.get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def by_key(table: str, key: str) -> Callable[[str], bool]:
    """A statement reading one row of `table` by its key."""
    return lambda s: s.startswith("SELECT") and f"FROM {table} WHERE {table}.{key} = " in s


def test_opening_a_case_reads_each_reference_row_once(client, open_case):
    open_case(conversation_id="warm-up")  # the calendar and the catalog index load once per process
    with statements() as seen:
        r = client.post("/api/v1/cases", json=case_body(conversation_id="conv-cost", materials_have=[]),
                        headers={**SERVICE, "Idempotency-Key": "cost-1"})
    assert r.status_code == 201, r.text
    assert r.json()["receipt"]["agent"] is not None  # the answer still names the assigned agent
    assert len([s for s in seen if by_key("service_items", "code")(s)]) == 1, seen
    assert len([s for s in seen if by_key("towns", "code")(s)]) == 0, seen  # all towns were read to resolve the place
    assert len([s for s in seen if by_key("intake_points", "code")(s)]) == 1, seen
    assert len([s for s in seen if by_key("staff", "id")(s)]) == 0, seen  # the town's agents were read to assign
    assert not [s for s in seen if s.startswith("SELECT cases.created_at")], seen  # the day is known
    assert len([s for s in seen if s.startswith("UPDATE cases")]) == 1, seen  # both opening moves in one
    assert len(seen) <= 24, "\n".join(seen)


def test_a_right_status_lookup_is_one_statement_and_writes_nothing(client, open_case):
    case = open_case()
    with statements() as seen:
        r = client.get(f"/api/v1/cases/{case['case_no']}/status", params={"last4": VALID_ID[-4:]})
    assert r.status_code == 200, r.text
    assert r.json()["hukou_town"] == "赤不苏镇" and r.json()["service_name"]
    # The case, its town, item and agent, and the failures counted so far (a lock refuses the right
    # digits too: test_status_and_ratings.py).
    assert len(seen) == 1, seen



def test_an_ended_case_is_answered_with_its_day_in_the_same_statement(client, open_case):
    case = open_case()
    r = client.post(f"/api/v1/cases/{case['case_no']}/transitions", headers=SERVICE, json={"to": "withdrawn"})
    assert r.status_code == 200, r.text
    with statements() as seen:
        r = client.get(f"/api/v1/cases/{case['case_no']}/status", params={"last4": VALID_ID[-4:]})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "withdrawn" and r.json()["ended_on"] == today_local().isoformat()
    assert r.json()["finished_on"] is None
    assert len(seen) == 1, seen
