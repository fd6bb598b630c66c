"""The conversation gateway: bot / queued / agent / closed, transcripts, and forwarding to Rasa.

Rasa is stood in for by a small local HTTP server (`fake_rasa`) speaking Rasa's REST channel and
recording what it received; everything on the platform side is the real application.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from erma.conversations import service
from erma.conversations.handoff import request_state
from erma.conversations.models import Conversation, HandoffRequest, TranscriptEntry
from erma.errors import Conflict
from erma.staff.auth import Principal
from erma.staff.models import Staff
from erma.unit_of_work import unit_of_work
from tests.platform.conftest import SERVICE

CHIBUSU, TUMEN = "513223114", "513223107"


class FakeRasa:
    """Rasa's REST webhook: answers `收到：<message>` with a button unless told otherwise."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.status = 200
        self.fail_next: list[int] = []  # statuses for the next messages, before `status` applies again
        self.on_message = None  # optional hook(body) -> list of replies
        self.trackers: dict[str, list[dict]] = {}  # sender → events, for GET /conversations/{sender}/tracker

    def messages(self) -> list[str]:
        return [r["body"]["message"] for r in self.received]

    def answer(self, body: dict) -> list[dict]:
        if self.on_message is not None:
            return self.on_message(body)
        return [{"recipient_id": body["sender"], "text": f"收到：{body['message']}"},
                {"recipient_id": body["sender"], "text": "还需要什么帮助？",
                 "buttons": [{"title": "转人工", "payload": "/request_human"}]}]


@pytest.fixture
def fake_rasa(monkeypatch):
    rasa = FakeRasa()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            url = urlsplit(self.path)
            rasa.received.append({"path": url.path, "query": parse_qs(url.query), "body": body,
                                  "conversation": self.headers.get("X-Erma-Conversation")})
            status = rasa.fail_next.pop(0) if rasa.fail_next else rasa.status
            if status != 200:
                self.send_response(status)
                self.end_headers()
                return
            payload = json.dumps(rasa.answer(body), ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            parts = urlsplit(self.path).path.strip("/").split("/")
            if len(parts) != 3 or parts[0] != "conversations" or parts[2] != "tracker":
                self.send_response(404)
                self.end_headers()
                return
            payload = json.dumps({"sender_id": parts[1], "events": rasa.trackers.get(parts[1], [])}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("RASA_AUTH_TOKEN", raising=False)
    yield rasa
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_conversation(client, channel: str = "web_chat", **extra) -> str:
    r = client.post("/api/v1/conversations", json={"channel": channel, **extra}, headers=SERVICE)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "bot"
    return r.json()["id"]


def say(client, cid: str, text: str, msg_id: str | None = None) -> dict:
    r = client.post(f"/api/v1/conversations/{cid}/messages", json={"text": text, "client_msg_id": msg_id},
                    headers=SERVICE)
    assert r.status_code == 200, r.text
    return r.json()


def entries(client, cid: str, after_seq: int = 0, headers=SERVICE) -> list[dict]:
    r = client.get(f"/api/v1/conversations/{cid}/transcript", params={"after_seq": after_seq}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def handoff(client, cid: str, **extra) -> dict:
    r = client.post("/api/v1/handoffs", json={"conversation_id": cid, "channel": "web_chat", **extra}, headers=SERVICE)
    assert r.status_code == 200, r.text
    return r.json()


def state_of(client, cid: str) -> str:
    return client.get(f"/api/v1/conversations/{cid}", headers=SERVICE).json()["state"]


# ------------------------------------------------------------------ bot state

def test_bot_state_forwards_to_rasa_and_stores_the_replies(client, fake_rasa):
    cid = open_conversation(client, channel="wechat", external_user_id="oWX-openid-1")
    out = say(client, cid, "低保要带啥", "m1")
    assert [(r["path"], r["query"], r["body"]["sender"], r["body"]["message"], r["body"]["metadata"]["channel"])
            for r in fake_rasa.received] == [("/webhooks/rest/webhook", {}, cid, "低保要带啥", "wechat")]
    # Named in a header too: a load balancer keeps the conversation on one Rasa replica (scaled set-up).
    assert fake_rasa.received[0]["conversation"] == cid
    # The platform's reading of the message goes with it (item first: the platform owns that rule).
    understanding = fake_rasa.received[0]["body"]["metadata"]["understanding"]
    assert (understanding["behaviour"], understanding["item"]) == ("requirements", "MX-001")
    assert out["forwarded_to_assistant"] is True and out["duplicate"] is False
    assert [r["text"] for r in out["replies"]] == ["收到：低保要带啥", "还需要什么帮助？"]
    assert out["replies"][1]["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    got = entries(client, cid)
    assert [(e["seq"], e["author"], e["text"]) for e in got] == [
        (1, "resident", "低保要带啥"), (2, "assistant", "收到：低保要带啥"), (3, "assistant", "还需要什么帮助？")]
    assert all(e["reply_to_seq"] == 1 for e in got[1:])
    # The same WeChat user gets their open conversation back.
    again = client.post("/api/v1/conversations", json={"channel": "wechat", "external_user_id": "oWX-openid-1"},
                        headers=SERVICE)
    assert again.status_code == 200 and again.json()["id"] == cid


def test_rasa_token_is_sent_as_query_parameter(client, fake_rasa, monkeypatch):
    monkeypatch.setenv("RASA_AUTH_TOKEN", "s3cret")
    cid = open_conversation(client)
    say(client, cid, "你好")
    assert fake_rasa.received[0]["query"] == {"token": ["s3cret"]}


def test_a_repeated_client_message_id_is_answered_once(client, fake_rasa):
    cid = open_conversation(client)
    first = say(client, cid, "户口本丢了怎么办", "same-id")
    second = say(client, cid, "户口本丢了怎么办", "same-id")
    assert fake_rasa.messages() == ["户口本丢了怎么办"]
    assert second["duplicate"] is True and second["forwarded_to_assistant"] is False
    assert second["entry"] == first["entry"]
    assert second["replies"] == first["replies"] and len(first["replies"]) == 2
    assert [e["author"] for e in entries(client, cid)] == ["resident", "assistant", "assistant"]


def test_opening_needs_the_service_token_and_a_known_channel(client, login):
    assert client.post("/api/v1/conversations", json={"channel": "web_chat"}).status_code == 401
    assert client.post("/api/v1/conversations", json={"channel": "web_chat"},
                       headers=login("agent-chibusu-1")).status_code == 403
    r = client.post("/api/v1/conversations", json={"channel": "fax"}, headers=SERVICE)
    assert r.status_code == 422 and r.json()["error"]["code"] == "channel_invalid"
    assert client.post("/api/v1/conversations/nope/messages", json={"text": "hi"}, headers=SERVICE).status_code == 404


# ------------------------------------------------------------------ handoff, queue, agents

def test_handoff_queues_the_gateway_conversation_and_keeps_its_contract(client, fake_rasa, open_case, db):
    cid = open_conversation(client)
    open_case(conversation_id=cid)  # household town 赤不苏镇
    result = handoff(client, cid, reason="fallback")
    assert result["state"] == "queued" and result["queue_position"] >= 1 and "人工" in result["message"]
    again = handoff(client, cid)
    assert again["state"] == "queued" and again["queue_position"] == result["queue_position"]
    conv = client.get(f"/api/v1/conversations/{cid}", headers=SERVICE).json()
    assert conv["state"] == "queued" and conv["town"]["code"] == CHIBUSU and conv["queue_reason"] == "fallback"
    owner_changes = [e for e in entries(client, cid) if e["author"] == "system"]
    assert len(owner_changes) == 1 and "排队" in owner_changes[0]["text"]  # idempotent: recorded once
    with db() as s:
        meta = s.scalar(select(TranscriptEntry.meta).where(TranscriptEntry.conversation_id == cid))
    assert meta == {"kind": "owner", "from": "bot", "to": "queued", "actor": "service", "reason": "fallback"}


def test_a_handoff_for_an_unknown_conversation_is_refused_and_never_counted(client, fake_rasa, db):
    first = open_conversation(client)
    assert handoff(client, first)["queue_position"] == 1
    for n in range(3):  # before: each stayed queued and pushed every later resident back one place
        r = client.post("/api/v1/handoffs", json={"conversation_id": f"ghost-{n}", "channel": "web_chat"},
                        headers=SERVICE)
        assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"
        assert "会话" in r.json()["error"]["message"]
    with db() as s:
        assert s.scalar(select(HandoffRequest).where(HandoffRequest.conversation_id.like("ghost-%"))) is None
        # A request left over from before the rule, for a conversation that never existed, is not counted either.
        s.add(HandoffRequest(conversation_id="ghost-old", channel="web_chat", reason="requested"))
        s.commit()
    second = open_conversation(client)
    assert handoff(client, second)["queue_position"] == 2


def test_a_later_handoff_naming_the_town_routes_a_queued_conversation_without_one(client, fake_rasa, login):
    cid = open_conversation(client)
    handoff(client, cid)  # the assistant queued it before anyone knew the household town
    assert client.get(f"/api/v1/conversations/{cid}", headers=SERVICE).json()["town"] is None
    r = client.post("/api/v1/handoffs", json={"conversation_id": cid, "channel": "web_chat", "reason": "requested",
                                             "town_code": CHIBUSU}, headers=SERVICE)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/conversations/{cid}", headers=SERVICE).json()["town"]["code"] == CHIBUSU
    inbox = client.get("/api/v1/agent/inbox", headers=login("agent-chibusu-1")).json()["items"]
    assert cid in [c["id"] for c in inbox]
    # A town once known is not moved by another request.
    client.post("/api/v1/handoffs", json={"conversation_id": cid, "channel": "web_chat", "reason": "requested",
                                         "town_code": TUMEN}, headers=SERVICE)
    assert client.get(f"/api/v1/conversations/{cid}", headers=SERVICE).json()["town"]["code"] == CHIBUSU


def test_queued_and_agent_states_never_call_rasa_and_keep_every_message(client, fake_rasa, login):
    cid = open_conversation(client)
    handoff(client, cid, town_code=CHIBUSU)
    for i, text in enumerate(["有人吗", "我想问低保", "我的身份证号是513223198001010011"]):
        out = say(client, cid, text, f"q{i}")
        assert out["forwarded_to_assistant"] is False and out["replies"] == []
    agent = login("agent-chibusu-1")
    inbox = client.get("/api/v1/agent/inbox", headers=agent).json()["items"]
    assert [i["id"] for i in inbox] == [cid] and inbox[0]["wait_seconds"] >= 0
    assert client.post(f"/api/v1/conversations/{cid}/take", headers=agent).json()["state"] == "agent"
    say(client, cid, "您好，在吗", "q3")
    r = client.post(f"/api/v1/conversations/{cid}/reply", json={"text": "您好，我是代办员余三郎"}, headers=agent)
    assert r.status_code == 200 and r.json()["author"] == "agent"
    assert fake_rasa.received == []
    transcript = entries(client, cid, headers=agent)
    assert [e["text"] for e in transcript if e["author"] == "resident"] == [  # the ID number masked (pii_refs)
        "有人吗", "我想问低保", "我的身份证号是513223********0011", "您好，在吗"]
    taken = [e for e in transcript if e["author"] == "system"][-1]
    assert "余三郎" in taken["text"] and taken["agent_staff_id"] is not None and taken["at"]
    # Another agent of the same town may not write into it.
    r = client.post(f"/api/v1/conversations/{cid}/reply", json={"text": "我来"}, headers=login("agent-chibusu-2"))
    assert r.status_code == 409 and "接入" in r.json()["error"]["message"]


def test_two_agents_taking_one_conversation_exactly_one_wins(client, fake_rasa, login, db):
    cid = open_conversation(client)
    handoff(client, cid, town_code=CHIBUSU)
    first = client.post(f"/api/v1/conversations/{cid}/take", headers=login("agent-chibusu-1"))
    second = client.post(f"/api/v1/conversations/{cid}/take", headers=login("agent-chibusu-2"))
    assert first.status_code == 200 and first.json()["agent"]["name"] == "余三郎"
    assert second.status_code == 409 and second.json()["error"] == {"code": "already_taken",
                                                                    "message": "这个会话已经由其他代办员接入了"}
    assert client.get("/api/v1/agent/inbox", headers=login("agent-chibusu-2")).json()["items"] == []
    with db() as s:
        assert request_state(s, cid) == "taken"  # read from the conversation, never stored beside it


def test_two_threads_racing_to_take_exactly_one_wins(client, fake_rasa, db):
    with db() as s:
        agents = [s.scalar(select(Staff).where(Staff.username == u)) for u in ("agent-chibusu-1", "agent-chibusu-2")]
    principals = [Principal(role="agent", staff=a, towns=frozenset(a.town_codes)) for a in agents]
    for _ in range(5):
        cid = open_conversation(client)
        handoff(client, cid, town_code=CHIBUSU)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def attempt(principal: Principal, cid=cid, barrier=barrier, outcomes=outcomes) -> None:
            barrier.wait()
            try:
                with unit_of_work(db) as session:
                    conversation = service.get_conversation(session, cid)
                    service.take(session, conversation, principal)
                outcomes.append(f"won:{principal.staff.username}")
            except Conflict as exc:
                outcomes.append(exc.code)

        threads = [threading.Thread(target=attempt, args=(p,)) for p in principals]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(o.startswith("won") for o in outcomes) == [False, True], outcomes
        assert "already_taken" in outcomes
        with db() as s:
            conv = s.get(Conversation, cid)
            winner = next(o for o in outcomes if o.startswith("won")).split(":")[1]
            assert conv.state == "agent"
            assert conv.assigned_staff_id == next(a.id for a in agents if a.username == winner)
            takes = s.scalars(select(TranscriptEntry).where(TranscriptEntry.conversation_id == cid,
                                                            TranscriptEntry.author == "system")
                              .order_by(TranscriptEntry.seq)).all()  # (PostgreSQL keeps no insertion order)
            assert [t.meta["to"] for t in takes] == ["queued", "agent"]


def test_agent_of_another_town_cannot_see_or_take(client, fake_rasa, login, open_case):
    cid = open_conversation(client)
    open_case(conversation_id=cid)  # 赤不苏镇
    handoff(client, cid)
    tumen = login("agent-tumen-1")
    assert client.get("/api/v1/agent/inbox", headers=tumen).json()["items"] == []
    assert client.get(f"/api/v1/conversations/{cid}/transcript", headers=tumen).status_code == 404
    r = client.post(f"/api/v1/conversations/{cid}/take", headers=tumen)
    assert r.status_code == 404 and r.json()["error"]["message"] == "没有找到这个会话"
    assert state_of(client, cid) == "queued"
    # Without a town yet, every agent sees it.
    unknown = open_conversation(client)
    handoff(client, unknown)
    assert [i["id"] for i in client.get("/api/v1/agent/inbox", headers=tumen).json()["items"]] == [unknown]
    chibusu = [i["id"] for i in client.get("/api/v1/agent/inbox", headers=login("agent-chibusu-1")).json()["items"]]
    assert chibusu == [cid, unknown]  # oldest first


def test_hand_back_returns_to_the_bot_and_rasa_is_asked_again(client, fake_rasa, login, db):
    cid = open_conversation(client)
    say(client, cid, "你好")
    handoff(client, cid, town_code=TUMEN)
    say(client, cid, "等人工")
    agent = login("agent-tumen-1")
    client.post(f"/api/v1/conversations/{cid}/take", headers=agent)
    assert client.post(f"/api/v1/conversations/{cid}/hand-back", headers=login("agent-tumen-2")).status_code == 409
    r = client.post(f"/api/v1/conversations/{cid}/hand-back", headers=agent)
    assert r.status_code == 200 and r.json()["state"] == "bot" and r.json()["agent"] is None
    out = say(client, cid, "谢谢，再问一下高龄津贴")
    assert out["forwarded_to_assistant"] is True
    assert fake_rasa.messages() == ["你好", "谢谢，再问一下高龄津贴"]
    with db() as s:
        metas = [m for m in s.scalars(select(TranscriptEntry.meta).where(TranscriptEntry.conversation_id == cid)
                                      .order_by(TranscriptEntry.seq)) if m]
        assert [(m["from"], m["to"]) for m in metas] == [("bot", "queued"), ("queued", "agent"), ("agent", "bot")]
        assert metas[2]["actor"] == "staff:agent-tumen-1"
        assert request_state(s, cid) == "closed"  # read from the conversation, never stored beside it
    # Close, then the resident writes again: reopened for the bot.
    assert client.post(f"/api/v1/conversations/{cid}/close", headers=agent).json()["state"] == "closed"
    assert say(client, cid, "还在吗")["forwarded_to_assistant"] is True
    assert state_of(client, cid) == "bot"


def test_transcript_after_seq_returns_exactly_the_missing_entries(client, fake_rasa, login):
    cid = open_conversation(client)
    say(client, cid, "一")                       # 1 resident, 2-3 assistant
    handoff(client, cid, town_code=CHIBUSU)      # 4 system
    say(client, cid, "二")                       # 5
    agent = login("agent-chibusu-1")
    client.post(f"/api/v1/conversations/{cid}/take", headers=agent)  # 6
    client.post(f"/api/v1/conversations/{cid}/reply", json={"text": "三", "client_msg_id": "a1"}, headers=agent)  # 7
    client.post(f"/api/v1/conversations/{cid}/reply", json={"text": "三", "client_msg_id": "a1"}, headers=agent)  # dup
    full = entries(client, cid)
    assert [e["seq"] for e in full] == list(range(1, 8))
    for seen in range(8):
        missing = entries(client, cid, after_seq=seen)
        assert [e["seq"] for e in missing] == list(range(seen + 1, 8))
        assert full[:seen] + missing == full  # nothing missing, nothing doubled
    page = client.get(f"/api/v1/conversations/{cid}/transcript", params={"after_seq": 2, "limit": 3},
                      headers=SERVICE).json()
    assert [e["seq"] for e in page["entries"]] == [3, 4, 5] and page["has_more"] is True


def test_rasa_down_nothing_is_lost_and_the_resident_is_told_in_chinese(client, fake_rasa, monkeypatch, db):
    fake_rasa.url = os.environ["RASA_URL"]
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{_free_port()}")  # nobody listens
    cid = open_conversation(client)
    out = say(client, cid, "我要办残疾证", "d1")
    assert out["forwarded_to_assistant"] is False
    [notice] = out["replies"]
    assert "智能助手暂时无法回复" in notice["text"] and "转人工" in notice["text"]
    assert notice["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    got = entries(client, cid)
    assert (got[0]["author"], got[0]["text"]) == ("resident", "我要办残疾证")
    assert got[1]["author"] == "system" and "连不上智能助手" in got[1]["text"]
    # A re-send of the same message does not duplicate anything.
    assert say(client, cid, "我要办残疾证", "d1")["duplicate"] is True
    # Rasa answers with an error: same treatment.
    monkeypatch.setenv("RASA_URL", fake_rasa.url)
    fake_rasa.status = 500
    out = say(client, cid, "在吗", "d2")
    assert "智能助手暂时无法回复" in out["replies"][0]["text"]
    # Pressing 转人工 while the assistant is down still reaches a person.
    out = say(client, cid, "/request_human", "d3")
    assert "人工" in out["replies"][0]["text"] and state_of(client, cid) == "queued"
    with db() as s:
        assert request_state(s, cid) == "queued"  # read from the conversation, never stored beside it
    assert [e["text"] for e in entries(client, cid) if e["author"] == "resident"] == [
        "我要办残疾证", "在吗", "/request_human"]


def test_rasa_action_handoff_during_the_forward_does_not_wait_on_the_gateway(client, fake_rasa, monkeypatch):
    """Rasa's action calls POST /api/v1/handoffs while the gateway is still waiting for Rasa's answer
    (as action_handoff does): the gateway must hold no lock meanwhile, and must then stop forwarding."""
    import uvicorn

    from erma.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    monkeypatch.setenv("RASA_TIMEOUT_SECONDS", "10")

    def rasa_with_actions(body: dict) -> list[dict]:
        if body["message"] != "转人工":
            return [{"recipient_id": body["sender"], "text": "您好"}]
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/handoffs", headers=SERVICE, timeout=20,
                       json={"conversation_id": body["sender"], "channel": body["metadata"]["channel"]})
        r.raise_for_status()
        return [{"recipient_id": body["sender"], "text": "好的，马上请工作人员来帮您。" + r.json()["message"]}]

    fake_rasa.on_message = rasa_with_actions
    try:
        cid = open_conversation(client)
        say(client, cid, "你好")
        started = time.monotonic()
        out = say(client, cid, "转人工")
        assert time.monotonic() - started < 5
        assert out["forwarded_to_assistant"] is True and out["replies"][0]["text"].startswith("好的，马上请工作人员")
        assert out["conversation"]["state"] == "queued"
        assert say(client, cid, "还要等多久")["forwarded_to_assistant"] is False
        assert fake_rasa.messages() == ["你好", "转人工"]
        authors = [(e["author"], e["text"][:4]) for e in entries(client, cid)]
        assert [a for a, _ in authors] == ["resident", "assistant", "resident", "system", "assistant", "resident"]
    finally:
        server.should_exit = True
        thread.join(10)
