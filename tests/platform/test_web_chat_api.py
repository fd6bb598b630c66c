"""The residents' web chat API: a token per conversation, messages through the gateway, and the
Server-Sent Events stream a page reconnects to without missing or doubling anything.

Rasa is the local `fake_rasa` server from test_conversations.py; everything else is the real app.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest
from sqlalchemy import select

from erma import log_redaction
from erma.conversations import service
from erma.conversations.models import TranscriptEntry
from erma.staff.auth import issue_token
from erma.staff.models import Staff
from erma.webchat import limits, stream, tokens, views
from tests.platform.conftest import SERVICE
from tests.platform.test_conversations import fake_rasa  # noqa: F401  (the fixture)


@pytest.fixture
def quick_streams(monkeypatch):
    """Streams that poll often and end by themselves, so a test can read one to its end."""
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(stream, "MAX_STREAM_SECONDS", 0.6)


def open_chat(client) -> str:
    r = client.post("/chat/api/conversations")
    assert r.status_code == 201, r.text
    assert r.json()["conversation"]["state"] == "bot"
    return r.json()["token"]


def send(client, token: str, text: str, msg_id: str, payload: str | None = None):
    body = {"token": token, "text": text, "client_msg_id": msg_id}
    if payload is not None:
        body["payload"] = payload
    return client.post("/chat/api/messages", json=body)


def conversation_id(token: str) -> str:
    return tokens.conversation_id_from(token)


def read_events(client, token: str, after_seq: int | None = None, last_event_id: int | None = None,
                until_seq: int | None = None) -> list[dict]:
    """Every event of one stream: {"event", "id", "data"}; stops early once `until_seq` arrived."""
    params = {"token": token}
    if after_seq is not None:
        params["after_seq"] = after_seq
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    events, current = [], {}
    with client.stream("GET", "/chat/api/events", params=params, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line == "":
                if "data" in current:
                    events.append({**current, "data": json.loads(current["data"])})
                    if until_seq is not None and current.get("id") and int(current["id"]) >= until_seq:
                        break
                current = {}
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(": ")
            current[field] = value
    return events


def entry_ids(events: list[dict]) -> list[int]:
    return [int(e["id"]) for e in events if e.get("event") == "entry"]


# ------------------------------------------------------------------ the page

def test_the_page_and_its_files_are_served_by_the_platform_without_any_cdn(client):
    page = client.get("/chat")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert 'lang="zh-CN"' in page.text and "转人工" in page.text and 'name="viewport"' in page.text
    assert not re.search(r'(src|href)="(https?:)?//', page.text), "everything is served locally"
    for name, kind in (("chat.js", "javascript"), ("chat.css", "text/css")):
        r = client.get(f"/chat/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "http://" not in r.text and "https://" not in r.text
    css = client.get("/chat/static/chat.css").text
    assert re.search(r":root\s*{[^}]*font-size:\s*18px", css), "body text is at least 17px"
    assert client.get("/chat/static/views.py").status_code == 404
    assert client.get("/chat/static/..%2Fviews.py").status_code == 404


# ------------------------------------------------------------------ the token

def test_the_token_grants_its_own_conversation_and_nothing_else(client, fake_rasa, db):
    mine, theirs = open_chat(client), open_chat(client)
    assert conversation_id(mine) != conversation_id(theirs)
    assert send(client, mine, "我的事情", "m-000001").status_code == 200
    assert send(client, theirs, "别人的事情", "t-000001").status_code == 200

    texts = [e["text"] for e in client.get("/chat/api/transcript", headers={"Authorization": f"Bearer {mine}"})
             .json()["entries"]]
    assert "我的事情" in texts and "别人的事情" not in texts
    # What reached the gateway went to the token's conversation only.
    staff_view = client.get(f"/api/v1/conversations/{conversation_id(theirs)}/transcript", headers=SERVICE).json()
    assert "我的事情" not in [e["text"] for e in staff_view["entries"]]

    forged = mine[:-3] + ("AAA" if not mine.endswith("AAA") else "BBB")
    with db() as s:
        staff = issue_token(s.scalar(select(Staff).limit(1)))  # signed with the same secret, another salt
    for bad in (forged, staff, conversation_id(mine), ""):
        r = send(client, bad, "冒充", "f-000001")
        assert r.status_code == 401, (bad, r.text)
        assert r.json()["error"]["code"] in ("chat_token_invalid", "chat_token_missing")
        assert client.get("/chat/api/transcript", params={"token": bad}).status_code == 401
        assert client.get("/chat/api/events", params={"token": bad}).status_code == 401
    # A conversation id alone, in any field, opens nothing.
    r = client.post("/chat/api/messages", json={"conversation_id": conversation_id(mine), "text": "冒充",
                                                "client_msg_id": "f-000002"})
    assert r.status_code == 401
    # A correctly signed token for a conversation that does not exist.
    ghost = tokens.issue("no-such-conversation")
    assert send(client, ghost, "你好", "g-000001").status_code == 404
    assert client.get("/chat/api/events", params={"token": ghost}).status_code == 404
    assert "冒充" not in fake_rasa.messages()


def test_an_expired_token_is_refused(client, monkeypatch):
    token = open_chat(client)
    monkeypatch.setattr(tokens, "MAX_AGE_SECONDS", -1)
    assert client.get("/chat/api/transcript", params={"token": token}).status_code == 401


# ------------------------------------------------------------------ messages

def test_a_resend_with_the_same_client_msg_id_is_stored_and_answered_once(client, fake_rasa, db):
    token = open_chat(client)
    first = send(client, token, "高龄补贴要带啥子", "retry-0001")
    again = send(client, token, "高龄补贴要带啥子", "retry-0001")
    assert first.status_code == again.status_code == 200
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert again.json()["entry"]["seq"] == first.json()["entry"]["seq"]
    assert [r["seq"] for r in again.json()["replies"]] == [r["seq"] for r in first.json()["replies"]]
    assert fake_rasa.messages() == ["高龄补贴要带啥子"]
    with db() as s:
        stored = s.scalars(select(TranscriptEntry.text).where(
            TranscriptEntry.conversation_id == conversation_id(token), TranscriptEntry.author == "resident")).all()
    assert stored == ["高龄补贴要带啥子"]


def test_a_tapped_button_sends_its_payload_and_shows_its_title(client, fake_rasa, db):
    fake_rasa.on_message = lambda body: [{"recipient_id": body["sender"], "text": "要不要申请？",
                                          "buttons": [{"title": "我要申请办理", "payload": "/apply"}]}]
    token = open_chat(client)
    offered = send(client, token, "高龄补贴", "b-000001").json()["replies"][0]
    assert offered["buttons"] == [{"title": "我要申请办理", "payload": "/apply"}]

    r = send(client, token, "我要申请办理", "b-000002", payload="/apply")
    assert r.status_code == 200, r.text
    assert fake_rasa.messages()[-1] == "/apply", "the assistant gets the payload"
    assert r.json()["entry"]["text"] == "我要申请办理", "the resident sees the title"
    agents_see = client.get(f"/api/v1/conversations/{conversation_id(token)}/transcript", headers=SERVICE).json()
    assert [e["text"] for e in agents_see["entries"] if e["author"] == "resident"] == ["高龄补贴", "我要申请办理"]
    with db() as s:
        tapped = s.scalar(select(TranscriptEntry).where(TranscriptEntry.client_msg_id == "b-000002"))
        assert tapped.meta == {"payload": "/apply"}

    # A payload the conversation was never offered, or under another title, is refused unsent.
    for n, (title, payload) in enumerate((("我要申请办理", '/apply{"service_code": "MX-001"}'), ("不申请了", "/apply"))):
        r = send(client, token, title, f"b-bad-{n:04d}", payload=payload)
        assert r.status_code == 422 and r.json()["error"]["code"] == "button_unknown"
    assert len(fake_rasa.messages()) == 2
    # 转人工 is always on the page.
    assert send(client, token, "转人工", "b-000003", payload="/request_human").status_code == 200
    assert fake_rasa.messages()[-1] == "/request_human"


def test_too_long_or_empty_messages_are_refused_in_chinese(client, fake_rasa):
    token = open_chat(client)
    r = send(client, token, "长" * 2001, "long-0001")
    assert r.status_code == 422 and "太长" in r.json()["error"]["message"]
    r = send(client, token, "   ", "empty-001")
    assert r.status_code == 422 and r.json()["error"]["message"] == "消息不能为空"
    assert fake_rasa.messages() == []


def test_a_flood_of_messages_is_slowed_down_but_retries_still_work(client, fake_rasa, monkeypatch):
    monkeypatch.setattr(limits, "MESSAGES_PER_MINUTE", 3)
    token = open_chat(client)
    for i in range(3):
        assert send(client, token, f"第{i}条", f"flood-{i:04d}").status_code == 200
    r = send(client, token, "第4条", "flood-0004")
    assert r.status_code == 429 and r.headers["retry-after"] and "太快" in r.json()["error"]["message"]
    assert send(client, token, "第0条", "flood-0000").json()["duplicate"] is True


def test_new_conversations_per_address_are_limited(client, monkeypatch):
    monkeypatch.setattr(views, "CONVERSATIONS_PER_WINDOW", 2)
    open_chat(client), open_chat(client)
    r = client.post("/chat/api/conversations")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


# ------------------------------------------------------------------ reading back

def test_a_reload_reads_the_whole_transcript_page_by_page(client, fake_rasa, monkeypatch):
    token = open_chat(client)
    for i in range(3):
        send(client, token, f"问题{i}", f"reload-{i:03d}")  # 3 × (message + 2 replies)
    monkeypatch.setattr(stream, "BATCH", 4)
    seen, after = [], 0
    while True:
        page = client.get("/chat/api/transcript", params={"after_seq": after},
                          headers={"Authorization": f"Bearer {token}"}).json()
        seen += [e["seq"] for e in page["entries"]]
        after = page["next_after_seq"]
        if not page["has_more"]:
            break
    assert seen == list(range(1, 10))


def test_residents_see_pushes_and_owner_changes_but_not_notes_meant_for_agents(client, fake_rasa, db):
    token = open_chat(client)
    cid = conversation_id(token)
    fake_rasa.status = 500
    send(client, token, "你好", "down-0001")  # the gateway notes the failure for agents, tells the resident
    with db() as s:
        service.add_system_note(s, cid, "您的办件MX2026…已通过户籍地镇审核", meta={"kind": "push", "case_no": "C-1"})
        service.add_system_note(s, cid, "未能通过微信送达居民，请改用电话联系", meta={"kind": "push_undeliverable"})
        s.commit()
    entries = client.get("/chat/api/transcript", params={"token": token}).json()["entries"]
    kinds = [(e["author"], e["kind"]) for e in entries]
    assert kinds == [("resident", None), ("system", "notice"), ("system", "push")]
    assert entries[2]["case_no"] == "C-1" and "已通过" in entries[2]["text"]
    assert not any("未经助手处理" in e["text"] or "电话联系" in e["text"] for e in entries)
    assert all("agent_staff_id" not in e and "meta" not in e for e in entries)


# ------------------------------------------------------------------ the event stream

def test_events_resume_after_last_event_id_exactly_once(client, fake_rasa, quick_streams):
    token = open_chat(client)
    send(client, token, "第一句", "sse-0001")   # 1, 2, 3
    send(client, token, "第二句", "sse-0002")   # 4, 5, 6
    everything = read_events(client, token)
    assert entry_ids(everything) == [1, 2, 3, 4, 5, 6]
    assert [e["data"]["text"] for e in everything if e.get("event") == "entry"][0] == "第一句"
    states = [e["data"] for e in everything if e.get("event") == "state"]
    assert states == [{"state": "bot", "agent": None, "as_of_seq": 6}]

    # The browser reconnects with Last-Event-ID (and the URL it first opened, here after_seq=0).
    assert entry_ids(read_events(client, token, after_seq=0, last_event_id=4)) == [5, 6]
    assert entry_ids(read_events(client, token, after_seq=5)) == [6]
    assert entry_ids(read_events(client, token, after_seq=6, last_event_id=2)) == []


def test_entries_written_while_the_stream_is_open_arrive_once_in_order(client, fake_rasa, db, monkeypatch):
    monkeypatch.setattr(stream, "POLL_SECONDS", 0.05)
    token = open_chat(client)
    cid = conversation_id(token)
    send(client, token, "你好", "live-0001")  # 1..3

    def writer():  # e.g. the outbox worker in another process
        for n in range(4):
            time.sleep(0.1)
            with db() as s:
                service.add_system_note(s, cid, f"办件通知{n}", meta={"kind": "push"})
                s.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    events = read_events(client, token, after_seq=3, until_seq=7)
    thread.join()
    assert entry_ids(events) == [4, 5, 6, 7]
    assert [e["data"]["text"] for e in events if e.get("event") == "entry"] == [f"办件通知{n}" for n in range(4)]


def test_the_stream_tells_who_is_answering_with_the_agents_name_and_credential(client, fake_rasa, login,
                                                                                 quick_streams):
    token = open_chat(client)
    cid = conversation_id(token)
    send(client, token, "转人工", "own-00001", payload="/request_human")  # 1..3 (fake Rasa does not queue)
    assert client.post("/api/v1/handoffs", json={"conversation_id": cid}, headers=SERVICE).status_code == 200
    agent = login("agent-chibusu-1")
    assert client.post(f"/api/v1/conversations/{cid}/take", headers=agent).status_code == 200
    client.post(f"/api/v1/conversations/{cid}/reply", json={"text": "您好，我是余三郎"}, headers=agent)

    events = read_events(client, token, after_seq=3)
    state = [e["data"] for e in events if e.get("event") == "state"][-1]
    assert state["state"] == "agent"
    assert state["agent"] == {"name": "余三郎", "credential_no": "茂代字2026-019"}
    entries = [e["data"] for e in events if e.get("event") == "entry"]
    assert [(e["author"], e["kind"]) for e in entries] == [("system", "owner"), ("system", "owner"), ("agent", None)]
    assert [e["to"] for e in entries[:2]] == ["queued", "agent"]
    assert entries[2]["agent"] == {"name": "余三郎", "credential_no": "茂代字2026-019"}

    # While the agent holds it, the resident's words go to the agent only.
    send(client, token, "我想问低保", "own-00002")
    assert "我想问低保" not in fake_rasa.messages()
    client.post(f"/api/v1/conversations/{cid}/hand-back", headers=agent)
    events = read_events(client, token, after_seq=6)
    assert [e["data"]["state"] for e in events if e.get("event") == "state"] == ["bot"]
    assert [e["data"].get("to") for e in events if e.get("event") == "entry"] == [None, "bot"]
    assert "智能助手继续为您服务" in events[-2]["data"]["text"]


def test_the_stream_stops_when_the_client_goes_away(client):
    cid = conversation_id(open_chat(client))

    async def run() -> list[str]:
        checks = {"n": 0}

        async def gone() -> bool:  # connected for the first poll, then gone
            checks["n"] += 1
            return checks["n"] > 1

        return [chunk async for chunk in stream.events(cid, 0, gone, poll_seconds=0.01, max_seconds=60)]

    chunks = asyncio.run(asyncio.wait_for(run(), timeout=10))
    assert chunks[0] == f"retry: {stream.RETRY_MILLISECONDS}\n\n"
    assert chunks[1].startswith("event: state") and len(chunks) == 2


def test_the_token_in_event_stream_urls_is_masked_in_logs(client):
    token = open_chat(client)
    line = f'127.0.0.1:5555 - "GET /chat/api/events?token={token}&after_seq=3 HTTP/1.1" 200'
    assert token not in log_redaction.redact(line) and "after_seq=3" in log_redaction.redact(line)
