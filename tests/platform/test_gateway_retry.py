"""A resident's message whose first attempt died before it was answered (the platform process was
killed while Rasa answered, as in the scaled set-up's replica-kill test): the page or the load
balancer sends it again with the same client_msg_id, and the resident gets one answer — the first
attempt's if it comes, Rasa's saved turn if Rasa finished it, else Rasa is asked again. Never none,
never two."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select, update

from erma.conversations import service
from erma.conversations.models import Conversation, TranscriptEntry
from erma.unit_of_work import unit_of_work
from tests.platform.test_conversations import fake_rasa  # noqa: F401  (the fixture)
from tests.platform.test_web_chat_api import conversation_id, open_chat, send


def died_after_storing(token: str, text: str, msg_id: str, seconds_ago: float) -> int:
    """What a process leaves behind when it dies while Rasa answers: the message stored, no reply."""
    with unit_of_work() as session:
        conversation = session.get(Conversation, conversation_id(token))
        step = service.store_resident_message(session, conversation, text, msg_id)
        assert isinstance(step, service.Forward)
        seq = step.entry.seq
    with unit_of_work() as session:
        session.execute(update(TranscriptEntry).where(TranscriptEntry.conversation_id == conversation_id(token),
                                                      TranscriptEntry.seq == seq)
                        .values(at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=seconds_ago)))
    return seq


def texts(db, token: str) -> list[tuple[str, str]]:
    with db() as s:
        rows = s.execute(select(TranscriptEntry.author, TranscriptEntry.text).where(
            TranscriptEntry.conversation_id == conversation_id(token)).order_by(TranscriptEntry.seq))
        return [(a, t) for a, t in rows if a in ("resident", "assistant")]


@pytest.fixture
def short_deadline(monkeypatch):
    monkeypatch.setenv("RASA_TIMEOUT_SECONDS", "1")
    monkeypatch.setattr(service, "UNANSWERED_GRACE_SECONDS", 0.0)
    monkeypatch.setattr(service, "UNANSWERED_POLL_SECONDS", 0.02)


def test_the_resend_of_a_message_left_unanswered_by_a_dead_process_is_answered_once(client, fake_rasa, db,
                                                                                   short_deadline):
    token = open_chat(client)
    seq = died_after_storing(token, "低保要带啥子", "died-0001", seconds_ago=5)
    again = send(client, token, "低保要带啥子", "died-0001")
    assert again.status_code == 200, again.text
    assert [r["text"] for r in again.json()["replies"]] == ["收到：低保要带啥子", "还需要什么帮助？"]
    assert fake_rasa.messages() == ["低保要带啥子"]  # asked once, by the resend
    assert fake_rasa.received[0]["body"]["metadata"]["erma_seq"] == seq
    assert texts(db, token) == [("resident", "低保要带啥子"), ("assistant", "收到：低保要带啥子"),
                                ("assistant", "还需要什么帮助？")]
    third = send(client, token, "低保要带啥子", "died-0001")  # a late third copy changes nothing
    assert [r["seq"] for r in third.json()["replies"]] == [r["seq"] for r in again.json()["replies"]]
    assert fake_rasa.messages() == ["低保要带啥子"]


def test_when_rasa_saved_the_turn_its_answer_is_taken_and_rasa_is_not_asked_twice(client, fake_rasa, db,
                                                                                 short_deadline):
    token = open_chat(client)
    seq = died_after_storing(token, "我叫李明", "died-0002", seconds_ago=5)
    sender = conversation_id(token)
    fake_rasa.trackers[sender] = [
        {"event": "user", "text": "我叫李明", "metadata": {"erma_seq": seq}},
        {"event": "bot", "text": "身份证号是多少？", "data": {}},
        {"event": "action", "name": "action_listen"}]
    again = send(client, token, "我叫李明", "died-0002")
    assert again.status_code == 200, again.text
    assert [r["text"] for r in again.json()["replies"]] == ["身份证号是多少？"]
    assert fake_rasa.messages() == [], "the form took the name once; asking again would take it twice"
    assert texts(db, token)[-1] == ("assistant", "身份证号是多少？")


def test_a_resend_while_the_first_attempt_still_waits_for_rasa_gets_that_answer(client, fake_rasa, db, monkeypatch):
    """A phone that lost its connection sends again while the first request is still being answered."""
    monkeypatch.setattr(service, "UNANSWERED_POLL_SECONDS", 0.02)
    release = threading.Event()

    def slow(body):
        release.wait(10)
        return [{"recipient_id": body["sender"], "text": f"收到：{body['message']}"}]
    fake_rasa.on_message = slow
    token = open_chat(client)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(r=send(client, token, "老年证咋个办", "slow-0001")))
    worker.start()
    for _ in range(200):  # the first attempt has stored the message and is waiting for Rasa
        if texts(db, token):
            break
        time.sleep(0.02)
    threading.Timer(0.3, release.set).start()
    again = send(client, token, "老年证咋个办", "slow-0001")
    worker.join(10)
    assert [r["text"] for r in again.json()["replies"]] == ["收到：老年证咋个办"]
    assert [r["seq"] for r in again.json()["replies"]] == [r["seq"] for r in first["r"].json()["replies"]]
    assert fake_rasa.messages() == ["老年证咋个办"]


def test_a_message_the_assistant_could_not_answer_is_not_asked_again(client, fake_rasa, db, short_deadline):
    token = open_chat(client)
    fake_rasa.status = 500
    first = send(client, token, "你好", "fail-0001")
    assert first.status_code == 200
    fake_rasa.status = 200
    again = send(client, token, "你好", "fail-0001")
    assert again.json()["duplicate"] is True
    assert fake_rasa.messages() == ["你好"], "the failure was told to the resident; a resend does not ask again"


def test_a_resend_waiting_for_the_first_attempt_holds_no_database_connection(client, fake_rasa, db):
    """Many resends wait at once after a process died; each holding a connection drained the pool."""
    token = open_chat(client)
    died_after_storing(token, "残疾证咋个办", "wait-0001", seconds_ago=0)
    with unit_of_work() as session:
        conversation = session.get(Conversation, conversation_id(token))
        repeated = service.store_resident_message(session, conversation, "残疾证咋个办", "wait-0001")
        assert repeated["duplicate"] is True and repeated["replies"] == []
        assert service.still_unanswered(session, repeated) is None  # the first attempt may still answer
        assert not session.in_transaction()


# A Rasa replica killed with the message in flight: the load balancer answers 502 and does not resend it
# (scripts/scaled/haproxy.cfg), because the replica may have saved the turn before it died.

def test_a_turn_rasa_saved_before_its_replica_died_is_taken_not_run_again(client, fake_rasa, db):
    token = open_chat(client)
    sender = conversation_id(token)

    def saved_then_died(body):
        fake_rasa.trackers[sender] = [
            {"event": "user", "text": body["message"], "metadata": body["metadata"]},
            {"event": "bot", "text": "身份证号是多少？", "data": {}},
            {"event": "action", "name": "action_listen"}]
        raise ConnectionResetError  # the replica died before it answered
    fake_rasa.on_message = saved_then_died
    r = send(client, token, "我叫李明", "lost-0001")
    assert r.status_code == 200, r.text
    assert [x["text"] for x in r.json()["replies"]] == ["身份证号是多少？"]
    assert fake_rasa.messages() == ["我叫李明"], "the form took the name once; sending it again would take it twice"
    assert texts(db, token) == [("resident", "我叫李明"), ("assistant", "身份证号是多少？")]


def test_a_message_lost_before_rasa_saved_its_turn_is_asked_once_more(client, fake_rasa, db):
    token = open_chat(client)
    fake_rasa.fail_next = [502]  # the load balancer's answer for a replica that died with the message
    r = send(client, token, "低保要带啥子", "lost-0002")
    assert [x["text"] for x in r.json()["replies"]] == ["收到：低保要带啥子", "还需要什么帮助？"]
    assert fake_rasa.messages() == ["低保要带啥子", "低保要带啥子"]
    assert texts(db, token)[0] == ("resident", "低保要带啥子") and len(texts(db, token)) == 3


def test_a_failure_that_is_not_a_lost_message_is_not_asked_again(client, fake_rasa, db):
    token = open_chat(client)
    fake_rasa.fail_next = [500]  # Rasa answered: it failed on this message
    r = send(client, token, "低保要带啥子", "lost-0003")
    assert r.status_code == 200
    assert fake_rasa.messages() == ["低保要带啥子"]
    assert r.json()["replies"][0]["author"] == "system"


def test_the_blocking_path_of_wechat_takes_the_saved_turn_too(client, fake_rasa, db):
    token = open_chat(client)
    sender = conversation_id(token)

    def saved_then_died(body):
        fake_rasa.trackers[sender] = [{"event": "user", "text": body["message"], "metadata": body["metadata"]},
                                      {"event": "bot", "text": "身份证号是多少？", "data": {}}]
        raise ConnectionResetError
    fake_rasa.on_message = saved_then_died
    with unit_of_work() as session:
        result = service.receive_resident_message(session, session.get(Conversation, sender), "我叫李明", "lost-0004")
        assert [e.text for e in result["replies"]] == ["身份证号是多少？"]
    assert fake_rasa.messages() == ["我叫李明"]
