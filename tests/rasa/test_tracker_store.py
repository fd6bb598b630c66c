"""rasa_plugins/tracker_store.py: recent trackers kept in memory between messages, never staler than the
table (another Rasa replica's turns, the retention purge, a message that failed before its turn was saved)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from rasa_plugins.tracker_store import ErmaSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "tracker.db")


def store(db: str, cls=ErmaSQLTrackerStore):
    return cls(domain=DOMAIN, dialect="sqlite", db=db)


def turn(tracker, text: str, reply: str) -> None:
    tracker.update(UserUttered(text, intent={"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(reply))
    tracker.update(ActionExecuted("action_listen"))


def message(tracker_store, sender: str, text: str, reply: str):
    """What Rasa does for a message: the tracker, the turn, the tracker saved."""
    tracker = run(tracker_store.get_or_create_tracker(sender))
    turn(tracker, text, reply)
    run(tracker_store.save(tracker))
    return tracker


def texts(tracker) -> list:
    return [e.text for e in tracker.events if isinstance(e, (UserUttered, BotUttered))]


def test_the_table_holds_every_turn_as_rasas_own_store_reads_it(db):
    ours = store(db)
    for n in range(4):
        message(ours, "c1", f"问{n}", f"答{n}")
    rasa = store(db, SQLTrackerStore)
    assert texts(run(rasa.retrieve("c1"))) == ["问0", "答0", "问1", "答1", "问2", "答2", "问3", "答3"]
    assert [e.as_dict() for e in run(rasa.retrieve("c1")).events] == \
           [e.as_dict() for e in run(ours.retrieve("c1")).events]


def test_a_conversation_continues_from_the_kept_tracker(db):
    ours = store(db)
    message(ours, "c1", "问0", "答0")
    second = message(ours, "c1", "问1", "答1")
    assert texts(second) == ["问0", "答0", "问1", "答1"]
    assert run(ours.retrieve("c1")) is second  # kept: not read back from the table


def test_another_replicas_turn_is_seen(db):
    one, two = store(db), store(db)
    message(one, "c1", "问0", "答0")
    message(one, "c1", "问1", "答1")
    message(two, "c1", "问2", "答2")  # the next message went to the other replica
    assert texts(message(one, "c1", "问3", "答3")) == ["问0", "答0", "问1", "答1", "问2", "答2", "问3", "答3"]
    assert texts(run(store(db, SQLTrackerStore).retrieve("c1")))[-2:] == ["问3", "答3"]


def test_a_turn_that_was_not_saved_is_not_remembered(db):
    ours = store(db)
    message(ours, "c1", "问0", "答0")
    message(ours, "c1", "问1", "答1")
    failed = run(ours.retrieve("c1"))
    turn(failed, "问2", "答2")  # Rasa failed before saving this turn
    assert texts(run(ours.retrieve("c1"))) == ["问0", "答0", "问1", "答1"]
    assert texts(message(ours, "c1", "问3", "答3"))[-2:] == ["问3", "答3"]
    assert "问2" not in texts(run(store(db, SQLTrackerStore).retrieve("c1")))


def test_purged_events_are_not_served_from_memory(db):
    ours = store(db)
    message(ours, "c1", "身份证 513223194403150027", "好的")
    message(ours, "c1", "问1", "答1")
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:  # the retention purge (python -m erma purge-trackers) deletes rows
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = 'c1' AND data LIKE '%513223%'"))
    assert "身份证 513223194403150027" not in texts(run(ours.retrieve("c1")))


def test_a_turn_saved_while_another_replica_wrote_is_kept_in_the_table(db):
    one, two = store(db), store(db)
    message(one, "c1", "问0", "答0")
    message(one, "c1", "问1", "答1")
    slow = run(one.retrieve("c1"))
    message(two, "c1", "问2", "答2")  # the other replica wrote while this one was still on its turn
    turn(slow, "问3", "答3")
    run(one.save(slow))
    stored = texts(run(store(db, SQLTrackerStore).retrieve("c1")))
    assert stored.count("问2") == 1 and stored.count("问3") == 1
    assert "问2" in texts(run(one.retrieve("c1")))  # not served from memory: the table has more
