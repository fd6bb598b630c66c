"""Every staff list comes a page at a time in a stable order (issue 15): `limit` and `offset`, and
`next_offset` (null on the last page). Walking the pages gives every row once, in the list's order.
The least-loaded agent is chosen from the agents' open cases only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from erma.cases.models import Case
from erma.conversations.models import Conversation
from erma.followup.models import FollowUpTask
from erma.staff.models import Staff

CHIBUSU = "513223114"


def _walk(client, path: str, headers: dict, limit: int) -> list[dict]:
    """Every row of a list, read page by page through next_offset."""
    rows, offset, pages = [], 0, 0
    sep = "&" if "?" in path else "?"
    while offset is not None:
        r = client.get(f"{path}{sep}limit={limit}&offset={offset}", headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        rows += page["items"]
        offset = page["next_offset"]
        pages += 1
        assert pages < 50
    return rows


def test_case_list_review_queue_pages_give_each_case_once_in_order(client, login, open_case):
    opened = [open_case(hukou_town="赤不苏镇")["case_no"] for _ in range(5)]
    reviewer = login("reviewer-chibusu")
    whole = client.get(f"/api/v1/towns/{CHIBUSU}/review-queue", headers=reviewer).json()
    assert whole["total"] == 5 and whole["next_offset"] is None
    paged = _walk(client, f"/api/v1/towns/{CHIBUSU}/review-queue", reviewer, 2)
    assert [c["case_no"] for c in paged] == [c["case_no"] for c in whole["items"]] == opened  # longest waiting first

    newest = _walk(client, "/api/v1/cases?order=newest", login("lead-1"), 2)
    assert [c["case_no"] for c in newest] == opened[::-1]
    first = client.get("/api/v1/cases?order=oldest&limit=5", headers=login("lead-1")).json()
    assert first["next_offset"] is None and [c["case_no"] for c in first["items"]] == opened


def test_a_page_too_large_or_a_negative_offset_is_refused(client, login):
    lead = login("lead-1")
    assert client.get("/api/v1/followup-tasks?limit=501", headers=lead).status_code == 422
    assert client.get("/api/v1/cases?offset=-1", headers=lead).status_code == 422
    assert client.get(f"/api/v1/towns/{CHIBUSU}/review-queue?limit=0", headers=login("reviewer-chibusu")).status_code == 422
    assert client.get("/api/v1/agent/inbox?limit=501", headers=login("agent-chibusu-1")).status_code == 422


def test_follow_up_tasks_and_lead_lists_page_earliest_due_first(client, login, open_case, db):
    numbers = [open_case(hukou_town="赤不苏镇")["case_no"] for _ in range(5)]
    today = dt.date.today()
    with db() as s:
        ids = dict(s.execute(select(Case.case_no, Case.id).where(Case.case_no.in_(numbers))).all())
        lead = s.scalar(select(Staff.id).where(Staff.username == "lead-1"))
        # Two tasks due the same day: the id keeps their order from page to page.
        for n, no in enumerate(numbers):
            s.add(FollowUpTask(kind="bad_rating", case_id=ids[no], assignee_id=lead, due_date=today + dt.timedelta(days=n // 2),
                               status="open", reason="差评回访整改"))
        s.commit()
    lead_headers = login("lead-1")
    tasks = _walk(client, "/api/v1/followup-tasks", lead_headers, 2)
    assert [t["case_no"] for t in tasks] == numbers
    listed = _walk(client, "/api/v1/lead/followups", lead_headers, 2)
    assert [row["case_no"] for row in listed] == numbers
    page = client.get("/api/v1/lead/followups?limit=2&offset=4", headers=lead_headers).json()
    assert page["total"] == 5 and len(page["items"]) == 1 and page["next_offset"] is None


def test_the_inbox_pages_longest_waiting_first(client, login, db):
    start = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.timezone.utc)
    with db() as s:
        for n in range(5):
            s.add(Conversation(id=f"paged-{n}", channel="web_chat", state="queued", town_code=CHIBUSU,
                               queue_reason="requested", queued_at=start + dt.timedelta(minutes=n // 2)))
        s.commit()
    rows = _walk(client, "/api/v1/agent/inbox", login("agent-chibusu-1"), 2)
    assert [c["id"] for c in rows] == [f"paged-{n}" for n in range(5)]


def test_the_least_loaded_agent_counts_open_cases_only(client, open_case, db):
    first = open_case(hukou_town="赤不苏镇")
    with db() as s:
        agents = s.scalars(select(Staff.id).where(Staff.role == "agent", Staff.active.is_(True))
                           .order_by(Staff.id)).all()
        holder = s.scalar(select(Case.agent_id).where(Case.case_no == first["case_no"]))
        assert holder in agents
        # Many ended cases on the first agent do not count against them.
        s.execute(update(Case).where(Case.case_no == first["case_no"]).values(stage="withdrawn"))
        s.commit()
    second = open_case(hukou_town="赤不苏镇")
    with db() as s:
        assert s.scalar(select(Case.agent_id).where(Case.case_no == second["case_no"])) == holder
