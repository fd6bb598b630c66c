"""Every moment the platform sends out carries its offset (issue 13, "Time"): a naive
`2026-12-05T23:39:04` reads 8 hours off on a phone set to China time. Walks the answers staff pages,
the assistant and the web chat read for one case and its conversation; dates stay plain China dates."""
from __future__ import annotations

import datetime as dt
import re

from erma.clock import local_zone
from tests.platform.conftest import SERVICE, holder
from tests.platform.test_conversations import fake_rasa  # noqa: F401  (the fixture)
from tests.platform.test_web_chat_api import conversation_id, open_chat, quick_streams, read_events, send  # noqa: F401

CHIBUSU = "513223114"
ITEM = "MX-013"  # 高龄津贴: a 容缺-listed item, so the deferral's times are walked too
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"
IN_HAND = ["高龄津贴申请表", "申请人居民身份证", "户口簿"]

# A date and a clock time, anywhere in a string: an ISO value ("2026-12-05T23:39:04.123") or one put
# into a sentence ("2026-12-05 23:39").
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def naive_moments(value, path: str = "$") -> list[str]:
    """Every moment in a JSON answer without an offset, with where it is."""
    if isinstance(value, dict):
        return [bad for key, item in value.items() for bad in naive_moments(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [bad for i, item in enumerate(value) for bad in naive_moments(item, f"{path}[{i}]")]
    if isinstance(value, str):
        return [f"{path}: {m.group(0)}" for m in MOMENT.finditer(value) if not m.group(1)]
    return []


class Walk:
    """Checks each answer; remembers the moments it saw so a test cannot pass by seeing none."""

    def __init__(self, client) -> None:
        self.client = client
        self.seen: dict[str, str] = {}

    def check(self, name: str, response, status: int = 200):
        assert response.status_code == status, (name, response.text)
        body = response.json()
        assert naive_moments(body) == [], name
        self._remember(name, body)
        return body

    def _remember(self, path: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self._remember(f"{path}.{key}", item)
        elif isinstance(value, list):
            for item in value:
                self._remember(f"{path}[]", item)
        elif isinstance(value, str) and MOMENT.fullmatch(value):
            self.seen[path] = value

    def get(self, name: str, path: str, headers: dict, **params):
        return self.check(name, self.client.get(path, headers=headers, params=params))

    def post(self, name: str, path: str, headers: dict, body: dict, status: int = 200):
        return self.check(name, self.client.post(path, headers=headers, json=body), status)


def _conversation(walk: Walk, client, login) -> tuple[str, str]:
    """A web chat queued for a person and taken by an agent of the household town."""
    token = open_chat(client)
    assert send(client, token, "我想办高龄津贴", "t-000001").status_code == 200
    cid = conversation_id(token)
    walk.post("handoff", "/api/v1/handoffs", SERVICE,
              {"conversation_id": cid, "channel": "web_chat", "reason": "requested", "town_code": CHIBUSU})
    agent = login("agent-chibusu-1")
    walk.get("inbox", "/api/v1/agent/inbox", agent)
    walk.post("take", f"/api/v1/conversations/{cid}/take", agent, {})
    walk.post("reply", f"/api/v1/conversations/{cid}/reply", agent, {"text": "您好，我是代办员"})
    walk.get("my conversations", "/api/v1/agent/conversations", agent)
    walk.get("conversation", f"/api/v1/conversations/{cid}", SERVICE)
    walk.get("transcript", f"/api/v1/conversations/{cid}/transcript", agent)
    return token, cid


def _case_through_review(walk: Walk, client, login, open_case, cid: str) -> str:
    """Opened, returned once, supplemented, approved with a deferral, visited."""
    opened = open_case(service_code=ITEM, conversation_id=cid, materials_have=IN_HAND)
    assert naive_moments(opened) == []
    no = opened["case_no"]
    reviewer, agent = login("reviewer-chibusu"), login(holder(no))
    walk.get("review queue", f"/api/v1/towns/{CHIBUSU}/review-queue", reviewer)
    walk.post("return", f"/api/v1/cases/{no}/review", reviewer,
              {"decision": "return", "opinion": "申请表未签字", "deficiencies": ["高龄津贴申请表"]})
    walk.post("resubmit", f"/api/v1/cases/{no}/resubmit", agent, {"materials_have": IN_HAND})
    walk.post("visit", f"/api/v1/cases/{no}/visits", agent, {"purpose": "supplement", "intake_point": None,
                                                               "note": None})
    walk.post("approve with deferral", f"/api/v1/cases/{no}/review", reviewer, {"decision": "approve_deferral"})
    walk.post("deferral", f"/api/v1/cases/{no}/deferral", agent, {"missing": [DEFERRABLE]}, status=201)
    walk.post("supplement", f"/api/v1/cases/{no}/deferral/supplement", agent, {})
    return no


def test_every_moment_in_the_staff_and_service_answers_carries_its_offset(client, login, open_case, fake_rasa,
                                                                           quick_streams):
    walk = Walk(client)
    token, cid = _conversation(walk, client, login)
    no = _case_through_review(walk, client, login, open_case, cid)
    agent, reviewer = login(holder(no)), login("reviewer-chibusu")

    case = walk.get("case", f"/api/v1/cases/{no}", agent)
    walk.get("case masked", f"/api/v1/cases/{no}", agent, masked="true")
    walk.get("actions", f"/api/v1/cases/{no}/actions", agent)
    walk.get("events", f"/api/v1/cases/{no}/events", agent)
    walk.get("my cases", "/api/v1/cases", agent, assigned="me", open="true")
    walk.get("review file", f"/api/v1/cases/{no}/review", reviewer)
    walk.get("deferral", f"/api/v1/cases/{no}/deferral", agent)
    walk.get("conversation cases", f"/api/v1/conversations/{cid}/cases", SERVICE)
    walk.get("status (resident)", f"/api/v1/cases/{no}/status", {}, last4="0011")
    walk.get("status (assistant)", f"/api/v1/cases/{no}/status", SERVICE, conversation_id=cid)
    walk.get("dashboard", "/api/v1/dashboard", login("lead-1"))
    for name in ("overdue-deferrals", "overdue-cases", "followups"):
        walk.get(f"lead {name}", f"/api/v1/lead/{name}", login("lead-1"))
    walk.get("follow-up tasks", "/api/v1/followup-tasks", login("lead-1"))
    walk.get("admin audit", "/api/v1/admin/audit", login("admin"))
    walk.get("chat transcript", "/chat/api/transcript", {"Authorization": f"Bearer {token}"})
    for event in read_events(client, token):
        assert naive_moments(event["data"]) == [], event

    csv = client.get("/api/v1/dashboard.csv", headers=login("lead-1"))
    assert csv.status_code == 200 and not [m for m in MOMENT.finditer(csv.text) if not m.group(1)]

    # The walk saw the moments each page shows, and a case's creation reads as the same instant in China.
    for expected in ("case.created_at", "case.stage_changed_at", "events.items[].at", "review file.opinions[].at",
                     "review queue.items[].waiting_since", "inbox.items[].queued_at", "transcript.entries[].at",
                     "chat transcript.entries[].at", "dashboard.generated_at"):
        assert expected in walk.seen, (expected, sorted(walk.seen))
    created = dt.datetime.fromisoformat(case["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.timezone.utc) - created) < dt.timedelta(minutes=5)
    assert case["expected_completion_date"] >= created.astimezone(local_zone()).date().isoformat()


def test_the_walk_catches_a_naive_moment_anywhere():
    answer = {"items": [{"at": "2026-12-05T15:39:04+00:00", "note": "收件于 2026-12-05 23:39"}],
              "due": "2026-12-05", "done_at": "2026-12-05T23:39:04.5Z"}
    assert naive_moments(answer) == ["$.items[0].note: 2026-12-05 23:39"]
    assert naive_moments({"at": "2026-12-05T23:39:04"}) == ["$.at: 2026-12-05T23:39:04"]
