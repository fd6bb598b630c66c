"""Pushes to residents through the durable outbox: stage changes, the deficiency list, 容缺
reminders, the result and the rating request reach the case's own conversation (the web chat's
transcript, or WeChat: the openid's current conversation), never one found through the ID number,
once; agents see what could not be delivered; agents' WeChat replies go the same way. The last two tests run real worker processes (`python -m erma worker`):
one SIGKILLed in the middle of a WeChat send and restarted, and two side by side.

WeChat's API server is a local fake (`fake_wechat`) that follows the published formats and counts
a message as delivered only when it has answered it; Rasa is the fake of test_conversations.py.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update
from stdnum.cn import ric

from erma.cases.lifecycle import transition
from erma.cases.models import Case
from erma.cases.stages import Stage
from erma.channels.wechat.models import WechatFollower
from erma.conversations.models import Conversation, TranscriptEntry
from erma.db import utcnow
from erma.deferral.models import Deferral
from erma.pushes.models import Notice
from erma.outbox.models import OutboxMessage
from erma.outbox.worker import run_once
from erma.settings import get_settings
from erma.staff.auth import Principal
from tests.platform import test_conversations
from tests.platform.conftest import SERVICE, holder
from tests.platform.test_conversations import handoff, open_conversation, say
from tests.platform.test_wechat import APP_ID, APP_SECRET, TOKEN, post, reply_of, text_xml

ROOT = Path(__file__).resolve().parents[2]
fake_rasa = test_conversations.fake_rasa  # the fake Rasa fixture (REST webhook and trigger_intent)
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"
REVIEWER, AGENT = "reviewer-chibusu", "agent-chibusu-1"


# ------------------------------------------------------------------ a configurable fake of WeChat's API server

class FakeWechat:
    """`GET /cgi-bin/token`, `POST /cgi-bin/message/custom/send`. What the next sends get is scripted:
    "ok", an errcode (e.g. -1 system busy, 40001 bad token, 45015 out of the window), or "hang"
    (no answer until `release` is set, then the connection is closed unanswered)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued = 0
        self.valid_tokens: set[str] = set()
        self.script: collections.deque = collections.deque()
        self.always: int | None = None  # an errcode every unscripted send gets
        self.out_of_window: set[str] = set()
        self.delay = 0.0
        self.arrived: list[dict] = []  # every send request
        self.delivered: list[dict] = []  # sends answered with errcode 0: the resident has these
        self.hanging = threading.Event()
        self.release = threading.Event()

    def token(self, query: dict) -> dict:
        if query.get("appid") != [APP_ID] or query.get("secret") != [APP_SECRET]:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        with self.lock:
            self.issued += 1
            token = f"ACCESS-TOKEN-{self.issued}"
            self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def decide(self, token: str, body: dict):
        with self.lock:
            self.arrived.append(body)
            action = self.script.popleft() if self.script else (self.always or "ok")
        if action == "ok":
            if token not in self.valid_tokens:
                return 40001
            if body.get("touser") in self.out_of_window:
                return 45015
            return 0
        return action

    def texts(self, openid: str | None = None) -> list[str]:
        return [b["text"]["content"] for b in self.delivered if openid is None or b["touser"] == openid]


ERRMSG = {0: "ok", -1: "system error", 40001: "invalid credential, access_token is invalid or not latest",
          45015: "response out of time limit or subscription is canceled", 43004: "require subscribe"}


@pytest.fixture
def fake_wechat(monkeypatch):
    wechat = FakeWechat()

    class Handler(BaseHTTPRequestHandler):
        def _json(self, data: dict) -> None:
            payload = json.dumps(data, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def do_GET(self):
            url = urlsplit(self.path)
            self._json(wechat.token(parse_qs(url.query)))

        def do_POST(self):
            url = urlsplit(self.path)
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            token = (parse_qs(url.query).get("access_token") or [""])[0]
            action = wechat.decide(token, body)
            if action == "hang":
                wechat.hanging.set()
                wechat.release.wait(30)
                self.close_connection = True
                return  # never answered: not delivered
            time.sleep(wechat.delay)
            self._json({"errcode": action, "errmsg": ERRMSG.get(action, "error")})
            if action == 0:
                with wechat.lock:
                    wechat.delivered.append(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wechat.base = f"http://127.0.0.1:{server.server_port}"
    settings = get_settings()
    monkeypatch.setattr(settings, "wechat_token", TOKEN)
    monkeypatch.setattr(settings, "wechat_app_id", APP_ID)
    monkeypatch.setattr(settings, "wechat_app_secret", APP_SECRET)
    monkeypatch.setattr(settings, "wechat_api_base", wechat.base)
    yield wechat
    wechat.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def rasa(fake_rasa):
    """The fake Rasa answering both the REST webhook and trigger_intent (as action_ask_rating does)."""
    def answer(body: dict):
        if "name" in body:  # POST /conversations/{id}/trigger_intent
            case_no = body["entities"]["case_no"]
            buttons = [{"title": level, "payload": "/rate" + json.dumps({"rating_level": level, "case_no": case_no},
                                                                        ensure_ascii=False)}
                       for level in ("非常满意", "满意", "基本满意", "不满意", "非常不满意")]
            return {"tracker": {"sender_id": "x"},
                    "messages": [{"recipient_id": "x", "text": f"您的办件（{case_no}）已经办好了。请给我们的服务打个分，点一下就行：",
                                  "buttons": buttons}]}
        return [{"recipient_id": body["sender"], "text": f"收到：{body['message']}"}]

    fake_rasa.on_message = answer
    return fake_rasa


# ------------------------------------------------------------------ helpers

def id_number(n: int) -> str:
    base = f"51322319800101{n:03d}"
    return base + ric.calc_check_digit(base + "0")  # (the digit passed last is ignored)


def web_resident(client) -> str:
    cid = open_conversation(client)
    say(client, cid, "你好")
    return cid


def wechat_resident(client, db, openid: str) -> str:
    reply_of(post(client, text_xml("你好", openid=openid)))  # opens the conversation and the 48-hour window
    with db() as s:
        return s.scalar(select(Conversation.id).where(Conversation.channel == "wechat",
                                                      Conversation.external_user_id == openid))


def new_case(open_case, cid: str | None, n: int, channel: str = "web_chat", **extra) -> str:
    return open_case(conversation_id=cid, id_number=id_number(n), channel=channel, **extra)["case_no"]


def review(client, login, no: str, decision: str = "approve", **body) -> None:
    r = client.post(f"/api/v1/cases/{no}/review", headers=login(REVIEWER), json={"decision": decision, **body})
    assert r.status_code == 200, r.text


def move(client, login, no: str, to: str, note: str | None = None, who: str | None = None) -> None:
    """By `who`, or the agent holding the case."""
    r = client.post(f"/api/v1/cases/{no}/transitions", headers=login(who or holder(no)), json={"to": to, "note": note})
    assert r.status_code == 200, r.text


def drain(db, now: dt.datetime | None = None) -> int:
    """Worker passes until one does nothing (pushes enqueue their WeChat sends for the next pass)."""
    total = 0
    for _ in range(10):
        handled = run_once(db, now=now)
        total += handled
        if handled == 0:
            break
    return total


def transcript(db, cid: str) -> list[TranscriptEntry]:
    with db() as s:
        return list(s.scalars(select(TranscriptEntry).where(TranscriptEntry.conversation_id == cid)
                              .order_by(TranscriptEntry.seq)))


def pushed(db, cid: str) -> list[TranscriptEntry]:
    return [e for e in transcript(db, cid) if (e.meta or {}).get("kind") == "push"]


def push_kinds(db, cid: str) -> list[str]:
    return [e.meta["push_kind"] for e in pushed(db, cid)]


def staff_notices(db, kind: str = "push_undeliverable") -> list[Notice]:
    with db() as s:
        return list(s.scalars(select(Notice).where(Notice.audience == "staff", Notice.kind == kind).order_by(Notice.id)))


def agent_of(db, no: str) -> int:
    with db() as s:
        return s.scalar(select(Case.agent_id).where(Case.case_no == no))


def outbox(db, kind: str | None = None) -> list[OutboxMessage]:
    with db() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list(s.scalars(query.where(OutboxMessage.kind == kind) if kind else query))


def complete(client, login, no: str, result: str = "已批准，每月发放高龄津贴100元") -> None:
    review(client, login, no)
    move(client, login, no, "at_department")
    move(client, login, no, "completed", result)


# ------------------------------------------------------------------ what reaches the web chat

def test_stage_changes_result_and_rating_reach_the_web_transcript_once_each(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 1, service_code="MX-013")
    complete(client, login, no)
    assert pushed(db, cid) == [], "nothing is delivered before the worker runs"
    drain(db)

    entries = pushed(db, cid)
    assert push_kinds(db, cid) == ["approved", "stage_changed", "result", "rating_request"]
    approved, at_department, result, rating = entries
    assert approved.author == "system" and approved.text.startswith(f"【{no}】")
    assert "高龄津贴" in approved.text and "审核" in approved.text and "县民政局" in approved.text
    assert "代办员已送部门办理" in at_department.text  # STAGE_TEXT, with NEXT_STEP after it
    assert "已办结" in result.text and "每月发放高龄津贴100元" in result.text
    # The rating request is the assistant's own question (trigger_intent), with its buttons.
    assert rating.author == "assistant" and no in rating.text
    assert [b["title"] for b in rating.buttons][0] == "非常满意"
    [trigger] = [r for r in rasa.received if r["path"].endswith("/trigger_intent")]
    assert trigger["path"] == f"/conversations/{cid}/trigger_intent"
    assert trigger["body"] == {"name": "EXTERNAL_ask_rating", "entities": {"case_no": no}}
    assert trigger["query"] == {"include_events": ["NONE"]}

    with db() as s:
        notices = list(s.scalars(select(Notice).where(Notice.audience == "resident").order_by(Notice.id)))
    assert [n.kind for n in notices] == ["approved", "stage_changed", "result", "rating_request"]
    assert all(n.delivered_at is not None for n in notices)
    assert [e.meta["notice_id"] for e in entries] == [n.id for n in notices]
    # Delivered once: more worker passes deliver nothing more, and everything is done.
    assert drain(db, utcnow() + dt.timedelta(days=3)) == 0
    assert len(pushed(db, cid)) == 4
    assert {m.status for m in outbox(db)} == {"done"}


def test_one_message_per_review_decision(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 2)
    review(client, login, no, "return", opinion="材料不全", deficiencies=["户口簿", "收入证明"])
    drain(db)
    [deficiency] = pushed(db, cid)
    assert deficiency.meta["push_kind"] == "deficiency_notice"
    assert "一次性告知" in deficiency.text and "1. 户口簿\n2. 收入证明" in deficiency.text and "材料不全" in deficiency.text

    # The agent hands in the corrections (a stage change of its own), then the town rejects.
    r = client.post(f"/api/v1/cases/{no}/transitions", headers=login(holder(no)), json={"to": "town_review"})
    assert r.status_code == 200, r.text
    review(client, login, no, "reject", opinion="不符合低保条件")
    drain(db)
    assert push_kinds(db, cid) == ["deficiency_notice", "stage_changed", "rejected"]
    assert "户籍地镇审核中" in pushed(db, cid)[1].text
    assert "不予受理" in pushed(db, cid)[2].text and "不符合低保条件" in pushed(db, cid)[2].text
    with db() as s:
        assert s.scalar(select(func.count(Notice.id)).where(Notice.audience == "resident")) == 3


def test_changes_the_assistant_makes_for_the_resident_are_not_pushed_again(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 3)
    r = client.post(f"/api/v1/cases/{no}/transitions", headers=SERVICE, json={"to": "withdrawn"})
    assert r.status_code == 200, r.text
    drain(db)
    assert pushed(db, cid) == []  # the assistant answered the resident in the conversation itself


def test_deferral_opened_and_the_reminder_reach_the_resident(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 4, service_code="MX-013")
    review(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login(holder(no)))
    assert r.status_code == 201, r.text
    drain(db)
    assert push_kinds(db, cid) == ["approved", "deferral_opened"]
    with db() as s:
        deferral = s.scalar(select(Deferral))
        reminder_due = s.scalar(select(OutboxMessage.due_at).where(OutboxMessage.kind == "deferral_reminder"))
    assert f"{deferral.deadline.month}月{deferral.deadline.day}日前补齐" in pushed(db, cid)[1].text
    drain(db, reminder_due.replace(tzinfo=dt.timezone.utc) + dt.timedelta(minutes=1))
    assert push_kinds(db, cid) == ["approved", "deferral_opened", "deferral_reminder"]
    assert "提醒" in pushed(db, cid)[2].text and DEFERRABLE in pushed(db, cid)[2].text


def test_a_counter_case_is_left_to_staff(client, login, open_case, db, rasa):
    no = new_case(open_case, None, 5, channel="counter", intake_point="online")
    review(client, login, no)
    assert outbox(db, "resident_push") == []
    [notice] = staff_notices(db)
    assert notice.staff_id == agent_of(db, no) and notice.staff_id is not None
    assert no in notice.text and "没有在线会话" in notice.text and "审核" in notice.text


def test_a_rolled_back_change_pushes_nothing(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 6)
    review(client, login, no)
    drain(db)
    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        transition(s, case, Stage.AT_DEPARTMENT, Principal(role="admin"), "送部门")
        s.flush()
        assert s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "resident_push")) == 2
        s.rollback()  # e.g. the flow failed after the stage change
    assert len(outbox(db, "resident_push")) == 1
    drain(db)
    assert push_kinds(db, cid) == ["approved"]


# ------------------------------------------------------------------ the case's own conversation

def test_pushes_follow_the_case_not_the_id_number(client, login, open_case, db, rasa, fake_wechat):
    """The hijack: a stranger applies once with the victim's ID number (and may even prove the last
    four digits, which that number contains) and used to receive the victim's pushes."""
    victim = web_resident(client)
    no = new_case(open_case, victim, 7)
    stranger = wechat_resident(client, db, "oSTRANGER")
    new_case(open_case, stranger, 7, channel="wechat")  # the victim's ID number, typed by someone else
    proved = client.get(f"/api/v1/cases/{no}/status", headers=SERVICE,
                        params={"conversation_id": stranger, "last4": id_number(7)[-4:]})
    assert proved.status_code == 200
    say(client, stranger, "有消息吗")  # the stranger's conversation is the latest used
    review(client, login, no)
    move(client, login, no, "at_department")
    drain(db)
    assert push_kinds(db, victim) == ["approved", "stage_changed"]
    assert pushed(db, stranger) == []
    assert fake_wechat.texts("oSTRANGER") == []


def test_a_wechat_case_follows_its_openid_to_a_new_conversation(client, login, open_case, db, rasa, fake_wechat):
    first = wechat_resident(client, db, "oFOLLOW")
    no = new_case(open_case, first, 7, channel="wechat")
    assert client.post(f"/api/v1/conversations/{first}/close", headers=login("admin")).status_code == 200
    reply_of(post(client, text_xml("我又来了", openid="oFOLLOW")))
    with db() as s:
        later = s.scalar(select(Conversation.id).where(Conversation.external_user_id == "oFOLLOW",
                                                       Conversation.state != "closed"))
    assert later and later != first
    review(client, login, no)
    drain(db)
    assert pushed(db, first) == []
    assert push_kinds(db, later) == ["approved"]
    assert fake_wechat.texts("oFOLLOW")[-1] == pushed(db, later)[0].text  # after the closing words


def test_pushes_reach_a_wechat_resident_on_wechat_in_order(client, login, open_case, db, rasa, fake_wechat):
    wx = wechat_resident(client, db, "oWX-ORDER")
    no = new_case(open_case, wx, 8, channel="wechat", service_code="MX-013")
    complete(client, login, no)
    drain(db)
    texts = fake_wechat.texts("oWX-ORDER")
    assert len(texts) == 4
    assert texts[:3] == [e.text for e in pushed(db, wx)[:3]]
    assert "已办结" in texts[2]
    # The assistant's rating question: no numbered buttons on WeChat, the scores as numbers instead.
    assert texts[3].startswith(f"您的办件（{no}）已经办好了") and "回复数字打分：5 非常满意" in texts[3]
    assert "1. 非常满意" not in texts[3]


def test_a_bare_number_after_the_rating_question_goes_to_the_assistant_as_typed(client, login, open_case, db, rasa,
                                                                                  fake_wechat):
    wx = wechat_resident(client, db, "oWX-RATE")
    rasa.on_message = lambda body: ([{"recipient_id": body["sender"], "text": "请选择",
                                      "buttons": [{"title": "转人工", "payload": "/request_human"}]}]
                                    if "message" in body else rasa_answer(body))
    reply_of(post(client, text_xml("有啥子", openid="oWX-RATE")))  # an answer with one numbered button
    no = new_case(open_case, wx, 9, channel="wechat", service_code="MX-013")
    complete(client, login, no)
    drain(db)
    post(client, text_xml("1", openid="oWX-RATE"))
    assert rasa.received[-1]["body"]["message"] == "1"  # a score, not the earlier answer's button 1 (转人工)


def rasa_answer(body: dict) -> dict:
    return {"tracker": {}, "messages": [{"recipient_id": "x", "text": "请打分",
                                         "buttons": [{"title": "满意", "payload": "/rate{\"rating_level\": \"满意\"}"}]}]}


# ------------------------------------------------------------------ WeChat failures

def test_a_transient_wechat_error_is_retried_with_back_off_then_delivered_once(client, login, open_case, db, rasa,
                                                                                fake_wechat):
    wx = wechat_resident(client, db, "oWX-BUSY")
    no = new_case(open_case, wx, 10, channel="wechat")
    review(client, login, no)
    fake_wechat.script.extend([-1, 40001, 40001])  # system busy; then a token still refused after one refresh
    t0 = utcnow()
    drain(db, t0)
    [send] = outbox(db, "wechat_send")
    assert send.status == "pending" and send.attempts == 1 and "-1" in send.last_error
    assert fake_wechat.delivered == []
    assert drain(db, t0 + dt.timedelta(seconds=20)) == 0, "not before the back-off"
    drain(db, t0 + dt.timedelta(seconds=31))
    [send] = outbox(db, "wechat_send")
    assert send.status == "pending" and send.attempts == 2 and "40001" in send.last_error
    drain(db, t0 + dt.timedelta(minutes=5))
    assert fake_wechat.texts() == [pushed(db, wx)[0].text]
    assert len(fake_wechat.arrived) == 4
    assert outbox(db, "wechat_send")[0].status == "done"
    assert staff_notices(db) == []


@pytest.mark.parametrize("errcode,reason", [(45015, "48小时"), (43004, "取消关注"), (40003, "用户标识无效")])
def test_a_permanent_wechat_refusal_is_shown_to_agents(client, login, open_case, db, rasa, fake_wechat, errcode, reason):
    wx = wechat_resident(client, db, "oWX-GONE")
    no = new_case(open_case, wx, 11, channel="wechat")
    review(client, login, no)
    fake_wechat.script.append(errcode)
    drain(db)
    assert fake_wechat.delivered == [] and len(fake_wechat.arrived) == 1
    note = transcript(db, wx)[-1]
    assert note.author == "system" and note.meta["kind"] == "push_undeliverable" and reason in note.meta["reason"]
    assert "未能通过微信送达" in note.text and no in note.text
    [notice] = staff_notices(db)
    assert notice.staff_id == agent_of(db, no) and reason in notice.text and no in notice.text
    assert outbox(db, "wechat_send")[0].status == "done"
    drain(db, utcnow() + dt.timedelta(days=1))
    assert len(fake_wechat.arrived) == 1, "not tried again"


def test_outside_our_own_48_hour_record_nothing_is_sent(client, login, open_case, db, rasa, fake_wechat):
    wx = wechat_resident(client, db, "oWX-OLD")
    no = new_case(open_case, wx, 12, channel="wechat")
    with db() as s:
        s.execute(update(WechatFollower).values(last_interaction_at=utcnow() - dt.timedelta(hours=49)))
        s.commit()
    review(client, login, no)
    drain(db)
    assert fake_wechat.arrived == []
    assert transcript(db, wx)[-1].meta == {"kind": "push_undeliverable", "channel": "wechat",
                                           "reason": "已超过48小时客服消息时限"}
    assert len(staff_notices(db)) == 1


def test_exhausted_retries_are_shown_to_agents(client, login, open_case, db, rasa, fake_wechat):
    wx = wechat_resident(client, db, "oWX-DOWN")
    no = new_case(open_case, wx, 13, channel="wechat")
    review(client, login, no)
    fake_wechat.always = -1
    t = utcnow()
    for _ in range(12):
        drain(db, t)
        t += dt.timedelta(hours=2)
    [send] = outbox(db, "wechat_send")
    assert send.status == "failed" and send.attempts == 8
    assert len(fake_wechat.arrived) == 8 and fake_wechat.delivered == []
    notes = [e for e in transcript(db, wx) if (e.meta or {}).get("kind") == "push_undeliverable"]
    assert len(notes) == 1 and "多次重试" in notes[0].text and no in notes[0].text
    [notice] = staff_notices(db)
    assert notice.staff_id == agent_of(db, no) and "多次重试" in notice.text


# ------------------------------------------------------------------ agents and the assistant

def test_an_agents_joining_replies_and_hand_back_reach_a_wechat_resident_through_the_outbox(client, login, open_case, db, rasa, fake_wechat):
    wx = wechat_resident(client, db, "oWX-AGENT")
    new_case(open_case, wx, 14, channel="wechat")
    handoff(client, wx, channel="wechat")
    agent = login(AGENT)
    assert client.post(f"/api/v1/conversations/{wx}/take", headers=agent).status_code == 200
    r = client.post(f"/api/v1/conversations/{wx}/reply", headers=agent, json={"text": "您好，材料我来帮您准备", "client_msg_id": "a1"})
    assert r.status_code == 200, r.text
    again = client.post(f"/api/v1/conversations/{wx}/reply", headers=agent, json={"text": "您好，材料我来帮您准备", "client_msg_id": "a1"})
    assert again.status_code == 200  # a re-sent reply is stored once and sent once
    drain(db)
    joined, text = fake_wechat.texts("oWX-AGENT")
    # Who is serving them first, with the credential number, as the web page's banner says.
    assert joined.startswith("代办员") and "证号" in joined and joined.endswith("已接入，为您服务")
    assert text.startswith("代办员") and text.endswith("：您好，材料我来帮您准备")
    assert client.post(f"/api/v1/conversations/{wx}/hand-back", headers=agent).status_code == 200
    drain(db)
    assert fake_wechat.texts("oWX-AGENT")[2].endswith("已结束人工服务，智能助手继续为您服务")

    # On the web the page reads the transcript itself: nothing goes through the outbox.
    web = web_resident(client)
    handoff(client, web)
    client.post(f"/api/v1/conversations/{web}/take", headers=agent)
    client.post(f"/api/v1/conversations/{web}/reply", headers=agent, json={"text": "在的"})
    client.post(f"/api/v1/conversations/{web}/close", headers=agent)
    assert len(outbox(db, "wechat_send")) == 3


def test_while_an_agent_holds_the_conversation_the_rating_request_is_the_template(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 15, service_code="MX-013")
    handoff(client, cid)
    assert client.post(f"/api/v1/conversations/{cid}/take", headers=login(AGENT)).status_code == 200
    complete(client, login, no)
    drain(db)
    assert not [r for r in rasa.received if r["path"].endswith("/trigger_intent")], "the assistant is not asked"
    rating = pushed(db, cid)[-1]
    assert rating.meta["push_kind"] == "rating_request" and rating.author == "system"
    assert f"回复“{no} 满意”" in rating.text


def test_when_rasa_stays_down_the_rating_request_falls_back_to_the_template(client, login, open_case, db, rasa):
    cid = web_resident(client)
    no = new_case(open_case, cid, 16, service_code="MX-013")
    complete(client, login, no)
    rasa.status = 500
    t = utcnow()
    for _ in range(6):
        drain(db, t)
        t += dt.timedelta(hours=2)
    assert len([r for r in rasa.received if r["path"].endswith("/trigger_intent")]) == 4
    assert push_kinds(db, cid) == ["approved", "stage_changed", "result", "rating_request"]
    rating = pushed(db, cid)[-1]
    assert rating.author == "system" and f"{no} 满意" in rating.text
    assert outbox(db, "rating_request")[0].status == "failed"


# ------------------------------------------------------------------ real worker processes

def _worker(fake_wechat, log: Path) -> subprocess.Popen:
    env = {**os.environ, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET, "WECHAT_TOKEN": TOKEN,
           "WECHAT_API_BASE": fake_wechat.base, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "erma", "worker", "--interval", "0.2"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait(predicate, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s" + (f"\n{log.read_text()[-3000:]}" if log else ""))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _many_pushes(client, login, open_case, db, n_wechat: int, n_web: int) -> tuple[dict, list[str]]:
    """Residents on both channels, two pushes each (approval, then the stage change to the department)."""
    conversations = {}
    for i in range(n_wechat):
        conversations[f"oWORKER-{i}"] = wechat_resident(client, db, f"oWORKER-{i}")
    for i in range(n_web):
        conversations[f"web-{i}"] = web_resident(client)
    cases = []
    for i, (who, cid) in enumerate(conversations.items()):
        no = new_case(open_case, cid, 100 + i, channel="wechat" if who.startswith("o") else "web_chat")
        review(client, login, no)
        move(client, login, no, "at_department")
        cases.append(no)
    return conversations, cases


def _assert_each_delivered_once(db, fake_wechat, conversations: dict) -> None:
    with db() as s:
        notices = list(s.scalars(select(Notice).where(Notice.audience == "resident")))
    entries = {cid: pushed(db, cid) for cid in conversations.values()}
    delivered = collections.Counter(e.meta["notice_id"] for es in entries.values() for e in es)
    assert delivered == {n.id: 1 for n in notices}, "each push once in the transcript"
    for who, cid in conversations.items():
        if who.startswith("o"):  # WeChat: each once, in the order of the transcript
            assert fake_wechat.texts(who) == [e.text for e in entries[cid]]
    assert len(fake_wechat.delivered) == sum(len(entries[cid]) for who, cid in conversations.items() if who.startswith("o"))
    assert {m.status for m in outbox(db)} == {"done"}


def _all_done(db) -> bool:
    with db() as s:
        return s.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.status != "done")) == 0


def test_a_worker_killed_in_the_middle_of_a_wechat_send_is_restarted_and_each_push_arrives_once(
        client, login, open_case, db, rasa, fake_wechat):
    conversations, _ = _many_pushes(client, login, open_case, db, n_wechat=3, n_web=2)
    fake_wechat.script.extend(["ok", "hang"])  # the second WeChat send never gets its answer
    log = Path(tempfile.mkdtemp()) / "worker.log"
    first = _worker(fake_wechat, log)
    try:
        _wait(fake_wechat.hanging.is_set, 20, "a WeChat send hanging", log)
        first.send_signal(signal.SIGKILL)  # killed while its transaction waits for WeChat
        first.wait(10)
    finally:
        _stop(first)
    fake_wechat.release.set()  # the fake drops the request unanswered
    assert len(fake_wechat.delivered) == 1
    second = _worker(fake_wechat, log)
    try:
        _wait(lambda: len(fake_wechat.delivered) == 6 and _all_done(db), 25, "every push delivered", log)
        time.sleep(0.5)  # a duplicate would show up now
    finally:
        _stop(second)
    _assert_each_delivered_once(db, fake_wechat, conversations)
    assert len(fake_wechat.arrived) == 7  # the unanswered send was made again, nothing else


def test_two_worker_processes_deliver_each_push_once(client, login, open_case, db, rasa, fake_wechat):
    conversations, _ = _many_pushes(client, login, open_case, db, n_wechat=4, n_web=4)
    fake_wechat.delay = 0.05  # long enough for both workers to be busy at once
    log = Path(tempfile.mkdtemp()) / "workers.log"
    workers = [_worker(fake_wechat, log) for _ in range(2)]
    try:
        _wait(lambda: len(fake_wechat.delivered) >= 8 and _all_done(db), 25, "every push delivered", log)
        time.sleep(0.5)
    finally:
        for proc in workers:
            _stop(proc)
    _assert_each_delivered_once(db, fake_wechat, conversations)
    assert len(fake_wechat.arrived) == 8
    with db() as s:
        claimed = set(s.scalars(select(OutboxMessage.claimed_by)))
    assert len(claimed) <= 2 and all(c and c.endswith(tuple(str(p.pid) for p in workers)) for c in claimed)
