"""A handoff request's state is read from its conversation, never kept beside it (erma/conversations/handoff.py,
migration 0016): taking, handing back and closing the conversation change one row, and the request follows;
a new request is recorded only when none is open; walking the migration down writes the states back."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

import erma.db as erma_db
from erma.conversations.handoff import request_state
from erma.conversations.models import HandoffRequest
from erma.settings import ROOT, get_settings
from tests.platform.conftest import reload_county_data
from tests.platform.test_conversations import CHIBUSU, handoff, open_conversation

AGENT = "agent-chibusu-1"


def _take(client, login, cid: str) -> None:
    assert client.post(f"/api/v1/conversations/{cid}/take", headers=login(AGENT)).status_code == 200


def _three_conversations(client, login) -> tuple[str, str, str]:
    """One waiting, one with an agent, one handed back to the assistant."""
    waiting, taken, back = (open_conversation(client) for _ in range(3))
    for cid in (waiting, taken, back):
        handoff(client, cid, town_code=CHIBUSU)
    _take(client, login, taken)
    _take(client, login, back)
    assert client.post(f"/api/v1/conversations/{back}/hand-back", headers=login(AGENT)).status_code == 200
    return waiting, taken, back


def test_the_request_follows_the_conversation_and_is_recorded_once_per_wait(client, login, db):
    waiting, taken, back = _three_conversations(client, login)
    with db() as s:
        assert [request_state(s, cid) for cid in (waiting, taken, back)] == ["queued", "taken", "closed"]
    # Asking again while waiting or while served records nothing new and answers the same state.
    assert handoff(client, waiting)["state"] == "queued"
    assert handoff(client, taken)["state"] == "taken"
    # Handed back, a new request starts a new wait: behind the one still waiting, not in front of it.
    again = handoff(client, back)
    assert (again["state"], again["queue_position"]) == ("queued", 2)
    with db() as s:
        counts = dict(s.execute(select(HandoffRequest.conversation_id, func.count())
                                .group_by(HandoffRequest.conversation_id)).all())
        assert [counts[cid] for cid in (waiting, taken, back)] == [1, 1, 2]
        assert request_state(s, back) == "queued"


def _alembic() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", get_settings().database_url)
    return cfg


def test_walking_the_migration_down_writes_the_states_back(client, login, db):
    waiting, taken, back = _three_conversations(client, login)
    cfg = _alembic()
    erma_db.get_engine().dispose()
    command.downgrade(cfg, "0015")
    try:
        with erma_db.get_engine().connect() as conn:
            rows = dict(conn.execute(text("SELECT conversation_id, state FROM handoff_requests")).all())
        assert [rows[cid] for cid in (waiting, taken, back)] == ["queued", "taken", "closed"]
    finally:
        erma_db.get_engine().dispose()
        command.upgrade(cfg, "head")
        reload_county_data()
        erma_db.get_engine().dispose()
    with db() as s:
        assert [request_state(s, cid) for cid in (waiting, taken, back)] == ["queued", "taken", "closed"]
