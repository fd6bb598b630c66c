"""The agents' list of the conversations they are serving (GET /api/v1/agent/conversations): paged in the
database in a stable order, and exactly what `can_see` allows — `service.visible_to` is that rule as SQL."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from erma.conversations.models import Conversation
from erma.conversations.service import can_see, visible_to
from erma.db import utcnow
from erma.permissions import Role
from erma.staff.auth import Principal, principal_from_token
from erma.staff.models import Staff

CHIBUSU, NANXIN = "513223114", "513223101"
AGENTS = ["agent-chibusu-1", "agent-chibusu-2", "agent-nanxin-1"]
USERS = [*AGENTS, "reviewer-chibusu", "lead-1", "admin", "clerk-weimen"]


@pytest.fixture
def conversations(db) -> list[str]:
    """Every kind of conversation: each state, with no town, the agents' town or another, held by nobody or by
    one of three agents; last active in an order unlike their ids."""
    made = []
    with db() as session, session.begin():
        staff = {u: session.scalar(select(Staff.id).where(Staff.username == u)) for u in AGENTS}
        start = utcnow() - dt.timedelta(days=1)
        combos = [(state, town, holder) for state in ("bot", "queued", "agent", "closed")
                  for town in (None, CHIBUSU, NANXIN) for holder in (None, *AGENTS)]
        for i, (state, town, holder) in enumerate(combos):
            cid = f"conv-list-{i:03d}"
            # Some share the same last-active moment: the id decides between them.
            session.add(Conversation(id=cid, channel="web_chat", state=state, town_code=town,
                                     assigned_staff_id=staff[holder] if holder else None, created_at=start,
                                     updated_at=start + dt.timedelta(minutes=(i * 7) % 5)))
            made.append(cid)
    return made


def _principal(session, headers: dict) -> Principal:
    return principal_from_token(session, headers["Authorization"].removeprefix("Bearer "))


def test_the_sql_rule_lets_each_role_see_what_can_see_allows(db, login, conversations):
    signed_in = [login(u) for u in USERS]  # before the session below: signing in writes
    with db() as session:
        principals = [_principal(session, h) for h in signed_in] + [Principal(role=Role.SERVICE)]
        rows = list(session.scalars(select(Conversation)))
        seen = []
        for principal in principals:
            in_sql = set(session.scalars(select(Conversation.id).where(visible_to(principal))))
            in_python = {c.id for c in rows if can_see(principal, c)}
            assert in_sql == in_python, principal.actor
            seen.append(len(in_python))
    # The comparison covered every shape of the rule: nothing, some, all.
    assert 0 in seen and len(conversations) in seen and any(0 < n < len(conversations) for n in seen)


def _all_pages(client, headers: dict, query: str, limit: int) -> tuple[list[str], int]:
    ids, offset, pages = [], 0, 0
    while offset is not None:
        r = client.get(f"/api/v1/agent/conversations?{query}&limit={limit}&offset={offset}", headers=headers)
        assert r.status_code == 200, r.text
        ids += [c["id"] for c in r.json()["items"]]
        offset, pages = r.json()["next_offset"], pages + 1
    return ids, pages


def test_the_list_comes_page_by_page_most_recently_active_first(client, db, login, conversations):
    for username, query in (("admin", "mine=0"), ("agent-chibusu-1", "mine=0"), ("agent-chibusu-1", "mine=1")):
        headers = login(username)
        with db() as session:
            principal = _principal(session, headers)
            serving = [c for c in session.scalars(select(Conversation).where(Conversation.state == "agent"))
                       if (principal.staff and c.assigned_staff_id == principal.staff.id)
                       or (query == "mine=0" and can_see(principal, c))]
        want = [c.id for c in sorted(serving, key=lambda c: (c.updated_at, c.id), reverse=True)]
        got, pages = _all_pages(client, headers, query, limit=2)
        assert got == want, (username, query)  # each once, none missing, in order across pages
        assert pages == max(1, -(-len(want) // 2))  # the last page knows it is the last
        assert got, (username, query)
    r = client.get("/api/v1/agent/conversations?limit=0", headers=login("admin"))
    assert r.status_code == 422
