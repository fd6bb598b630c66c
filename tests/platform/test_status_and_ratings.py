"""Status lookups by case number + last four digits, and 好差评 ratings with follow-up."""
from __future__ import annotations

import pytest

from sqlalchemy import select

from erma.cases.models import Case
from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE

OWN = {"conversation_id": "conv-1"}  # the conversation the fixture's cases are opened from


def _complete(client, login, no):
    agent = login("agent-chibusu-1")
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    for to, note in (("at_department", None), ("completed", "准予")):
        assert client.post(f"/api/v1/cases/{no}/transitions", json={"to": to, "note": note}, headers=agent).status_code == 200


@pytest.mark.parametrize("last4", [VALID_ID[-4:], VALID_PHONE[-4:]])
def test_status_with_last_four_of_id_or_phone(client, open_case, last4):
    case = open_case()
    r = client.get(f"/api/v1/cases/{case['case_no'].lower()}/status", params={"last4": last4})
    assert r.status_code == 200
    body = r.json()
    assert body["stage_text"] == "户籍地镇审核中"
    assert "赤不苏镇" in body["next_step"]
    assert body["holder"] == {"kind": "town", "name": "赤不苏镇审核人员"}
    assert body["expected_completion_date"] == case["expected_completion_date"]
    assert body["finished_on"] is None and body["ended_on"] is None


def test_a_finished_case_answers_with_the_day_it_was_finished(client, login, open_case):
    from erma.clock import today_local

    case = open_case()
    _complete(client, login, case["case_no"])
    body = client.get(f"/api/v1/cases/{case['case_no']}/status", params={"last4": VALID_ID[-4:]}).json()
    assert body["stage"] == "completed" and body["finished_on"] == today_local().isoformat()


def test_status_names_the_agent_once_the_case_is_with_them(client, login, open_case):
    case = open_case()
    client.post(f"/api/v1/cases/{case['case_no']}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    holder = client.get(f"/api/v1/cases/{case['case_no']}/status", params={"last4": VALID_PHONE[-4:]}).json()["holder"]
    assert holder["kind"] == "agent"
    assert holder["credential_no"] == case["agent"]["credential_no"]


def test_wrong_digits_look_exactly_like_an_unknown_case(client, open_case):
    no = open_case()["case_no"]
    wrong = client.get(f"/api/v1/cases/{no}/status", params={"last4": "9999"})
    unknown = client.get("/api/v1/cases/EM-20000101-0001/status", params={"last4": "0011"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()


def test_repeated_failures_are_slowed_down(client, open_case):
    no = open_case()["case_no"]
    codes = [client.get(f"/api/v1/cases/{no}/status", params={"last4": f"{n:04d}"}).status_code for n in range(1, 6)]
    assert codes == [404] * 5
    r = client.get(f"/api/v1/cases/{no}/status", params={"last4": VALID_PHONE[-4:]})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


def test_conversation_cases_for_the_assistant(client, open_case):
    first = open_case(conversation_id="wx-openid-1")["case_no"]
    second = open_case(conversation_id="wx-openid-1", service_code="MX-005")["case_no"]
    open_case(conversation_id="someone-else")
    items = client.get("/api/v1/conversations/wx-openid-1/cases", headers=SERVICE).json()["items"]
    assert [i["case_no"] for i in items] == [second, first]


@pytest.mark.parametrize("raw,level", [("非常满意", 5), ("满意", 4), ("基本满意", 3), ("不满意", 2),
                                       ("非常不满意", 1), (5, 5), ("打4分", 4), ("3星", 3), ("1", 1),
                                       ("很满意", 5), ("还行吧", 3)])
def test_five_levels_in_words_or_numbers(client, login, open_case, raw, level):
    no = open_case()["case_no"]
    _complete(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": raw}, headers=SERVICE)
    assert r.status_code == 200, r.text
    assert r.json()["level"] == level
    assert r.json()["follow_up"] is (level <= 2)


def test_rating_needs_a_completed_case_and_happens_once(client, login, open_case):
    no = open_case()["case_no"]
    r = client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": 5}, headers=SERVICE)
    assert r.status_code == 409
    _complete(client, login, no)
    assert client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": 5}, headers=SERVICE).status_code == 200
    assert client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": 1}, headers=SERVICE).status_code == 409


def test_unknown_level_is_422_in_chinese(client, login, open_case):
    no = open_case()["case_no"]
    _complete(client, login, no)
    for body in ({"level": "随便"}, {"level": "随便", "said": "随便"}, {"said": "EM-20261126-0001"}, {}):
        r = client.post(f"/api/v1/cases/{no}/rating", json={**OWN, **body}, headers=SERVICE)
        assert r.status_code == 422 and r.json()["error"]["code"] == "rating_level_invalid", body
        assert "非常满意" in r.json()["error"]["message"]


def test_the_residents_whole_message_is_read_when_the_words_given_name_no_level(client, login, open_case, db):
    # The assistant sends the NLU's words for the level (maybe none, maybe "算是") and the whole message.
    no = open_case()["case_no"]
    _complete(client, login, no)
    said = "算是还行吧，就是等得有点久"
    r = client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": "算是", "said": said}, headers=SERVICE)
    assert r.status_code == 200, r.text
    assert (r.json()["level"], r.json()["level_text"], r.json()["follow_up"]) == (3, "基本满意", False)
    assert _comments(db, no) == ["算是还行吧,就是等得有点久"]  # no level word in it: the whole message is kept


def test_bad_rating_opens_a_follow_up_for_the_duty_lead(client, login, open_case):
    no = open_case()["case_no"]
    _complete(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": "不满意", "comment": "等太久"}, headers=SERVICE)
    assert r.json()["follow_up"] is True and r.json()["follow_up_due"]
    lead = login("lead-1")
    tasks = client.get("/api/v1/followup-tasks", headers=lead).json()["items"]
    assert [(t["case_no"], t["kind"]) for t in tasks] == [(no, "bad_rating")]
    assert tasks[0]["due_date"] == r.json()["follow_up_due"]
    assert client.get("/api/v1/followup-tasks", headers=login("agent-chibusu-1")).status_code == 403
    done = client.post(f"/api/v1/followup-tasks/{tasks[0]['id']}/complete", json={"outcome": "已电话回访，解释原因"}, headers=lead)
    assert done.json()["status"] == "done"
    assert client.get(f"/api/v1/cases/{no}", headers=lead).json()["stage"] == "followed_up"


def test_the_residents_words_beyond_the_level_reach_the_duty_lead(client, login, open_case, db):
    no = open_case()["case_no"]
    _complete(client, login, no)
    said = "不满意，星期天转人工半天都没人理"
    r = client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": "不满意", "said": said}, headers=SERVICE)
    assert r.status_code == 200 and r.json()["follow_up"] is True
    tasks = client.get("/api/v1/followup-tasks", headers=login("lead-1")).json()["items"]
    assert [t["reason"] for t in tasks] == ["差评（不满意）回访整改：星期天转人工半天都没人理"]
    assert _comments(db, no) == ["星期天转人工半天都没人理"]


@pytest.mark.parametrize("said", ["满意", "5星", "非常满意！"])
def test_a_level_alone_leaves_no_comment(client, login, open_case, db, said):
    no = open_case()["case_no"]
    _complete(client, login, no)
    assert client.post(f"/api/v1/cases/{no}/rating", json={**OWN, "level": said, "said": said},
                       headers=SERVICE).status_code == 200
    assert _comments(db, no) == [None]


def _comments(db, no: str) -> list:
    from sqlalchemy import select

    from erma.cases.models import Case
    from erma.followup.models import Rating

    with db() as s:
        return list(s.scalars(select(Rating.comment).join(Case, Case.id == Rating.case_id).where(Case.case_no == no)))


# ------------------------------------------------------------------ a conversation acts only on its own cases

def _conversation(db, cid: str, channel: str = "web_chat", openid: str | None = None, state: str = "bot") -> str:
    from erma.conversations.models import Conversation

    with db() as s:
        s.add(Conversation(id=cid, channel=channel, external_user_id=openid, state=state))
        s.commit()
    return cid


def _rating_state(db, no: str) -> tuple:
    from sqlalchemy import select

    from erma.cases.models import Case
    from erma.followup.models import FollowUpTask, Rating

    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        levels = s.scalars(select(Rating.level).where(Rating.case_id == case.id)).all()
        tasks = s.scalars(select(FollowUpTask.kind).where(FollowUpTask.case_id == case.id)).all()
        return case.stage, list(levels), list(tasks)


def test_a_strangers_conversation_cannot_rate_someone_elses_case(client, login, open_case, db):
    """The attack: `/rate{"rating_level":"非常不满意","case_no":"EM-…"}` typed in another conversation."""
    no = open_case(conversation_id="conv-owner")["case_no"]
    _complete(client, login, no)
    attack = {"level": "非常不满意", "comment": "恶意差评", "conversation_id": "conv-stranger"}
    refused = client.post(f"/api/v1/cases/{no}/rating", json=attack, headers=SERVICE)
    unknown = client.post("/api/v1/cases/EM-20000101-0001/rating", json=attack, headers=SERVICE)
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["error"]["code"] == unknown.json()["error"]["code"] == "case_not_found"
    assert refused.json()["error"]["message"] == unknown.json()["error"]["message"].replace("EM-20000101-0001", no)
    no_conversation = client.post(f"/api/v1/cases/{no}/rating", json={"level": 1}, headers=SERVICE)
    assert no_conversation.status_code == 404
    assert _rating_state(db, no) == ("completed", [], [])  # nothing stored, no 差评 follow-up

    mine = client.post(f"/api/v1/cases/{no}/rating", json={"level": "满意", "conversation_id": "conv-owner"},
                       headers=SERVICE)
    assert mine.status_code == 200 and mine.json()["level"] == 4 and mine.json()["follow_up"] is False
    assert _rating_state(db, no) == ("rated", [4], [])


def test_a_rating_is_final_even_for_its_own_conversation(client, login, open_case, db):
    no = open_case(conversation_id="conv-owner")["case_no"]
    _complete(client, login, no)
    own = {"conversation_id": "conv-owner"}
    assert client.post(f"/api/v1/cases/{no}/rating", json={**own, "level": 5}, headers=SERVICE).status_code == 200
    again = client.post(f"/api/v1/cases/{no}/rating", json={**own, "level": 1}, headers=SERVICE)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    stranger = client.post(f"/api/v1/cases/{no}/rating", json={"level": 1, "conversation_id": "x"}, headers=SERVICE)
    assert stranger.status_code == 404  # a stranger does not even learn that it was rated
    assert _rating_state(db, no) == ("rated", [5], [])


def test_the_same_wechat_user_rates_from_a_later_conversation(client, login, open_case, db):
    first = _conversation(db, "wx-first", "wechat", "oSAME-USER", state="closed")
    later = _conversation(db, "wx-later", "wechat", "oSAME-USER")
    other = _conversation(db, "wx-other", "wechat", "oSOMEONE-ELSE")
    no = open_case(conversation_id=first, channel="wechat")["case_no"]
    _complete(client, login, no)
    assert client.post(f"/api/v1/cases/{no}/rating", json={"level": 1, "conversation_id": other},
                       headers=SERVICE).status_code == 404
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": 5, "conversation_id": later}, headers=SERVICE)
    assert r.status_code == 200, r.text
    assert [i["case_no"] for i in client.get(f"/api/v1/conversations/{later}/cases", headers=SERVICE).json()["items"]] == [no]
    assert client.get(f"/api/v1/conversations/{other}/cases", headers=SERVICE).json()["items"] == []


def _status(client, no, conversation_id, last4=""):
    params = {"conversation_id": conversation_id, **({"last4": last4} if last4 else {})}
    return client.get(f"/api/v1/cases/{no}/status", params=params, headers=SERVICE)


def test_status_without_digits_only_for_the_cases_own_conversation(client, open_case):
    no = open_case(conversation_id="conv-owner")["case_no"]
    assert _status(client, no, "conv-owner").status_code == 200
    assert _status(client, no, "conv-stranger").status_code == 404
    assert client.get(f"/api/v1/cases/{no}/status", headers=SERVICE).status_code == 422  # whose conversation?
    assert client.get(f"/api/v1/cases/{no}/status").status_code == 404  # public edge: digits needed


def test_proving_ownership_binds_the_case_to_the_conversation(client, login, open_case):
    no = open_case(conversation_id="conv-owner")["case_no"]
    assert client.get("/api/v1/conversations/conv-later/cases", headers=SERVICE).json()["items"] == []
    assert _status(client, no, "conv-later", VALID_PHONE[-4:]).status_code == 200
    assert [i["case_no"] for i in client.get("/api/v1/conversations/conv-later/cases", headers=SERVICE).json()["items"]] == [no]
    assert _status(client, no, "conv-later").status_code == 200  # no digits needed any more
    _complete(client, login, no)
    assert client.post(f"/api/v1/cases/{no}/rating", json={"level": 4, "conversation_id": "conv-later"},
                       headers=SERVICE).status_code == 200
    # A lookup at the public edge binds nothing.
    other = open_case(conversation_id="conv-owner", service_code="MX-005")["case_no"]
    assert client.get(f"/api/v1/cases/{other}/status", params={"last4": VALID_PHONE[-4:]}).status_code == 200
    assert _status(client, other, "conv-public").status_code == 404


def test_one_residents_wrong_guesses_lock_only_their_conversation_and_that_case(client, open_case):
    """The attack: all assistant lookups come from the action server's address, so five wrong guesses
    used to lock every resident out."""
    victim = open_case(conversation_id="conv-victim")["case_no"]
    neighbour = open_case(conversation_id="conv-neighbour-old", id_number="513223198001010038",
                          phone="13900001234")["case_no"]
    codes = [_status(client, victim, "conv-attacker", f"{n:04d}").status_code for n in range(1, 6)]
    assert codes == [404] * 5
    assert _status(client, victim, "conv-attacker", VALID_PHONE[-4:]).status_code == 429
    assert _status(client, neighbour, "conv-attacker", "1234").status_code == 429  # the conversation is locked
    assert _status(client, victim, "conv-other", VALID_PHONE[-4:]).status_code == 429  # and so is the case
    # Another resident, in their own conversation, looks up their own case with their digits.
    r = _status(client, neighbour, "conv-neighbour-new", "1234")
    assert r.status_code == 200 and r.json()["case_no"] == neighbour
    # The victim's own conversation needs no digits and is not locked out.
    assert _status(client, victim, "conv-victim").status_code == 200
    # The public edge still counts per client address and case.
    assert client.get(f"/api/v1/cases/{victim}/status", params={"last4": VALID_PHONE[-4:]}).status_code == 429


def test_a_conversations_open_cases_come_before_its_finished_ones(client, db, open_case):
    # "我的…办到哪了" lists these in this order (the assistant shows the first three).
    older = open_case(conversation_id="conv-open-first")["case_no"]
    newer = open_case(conversation_id="conv-open-first", service_code="MX-005")["case_no"]
    with db() as s:
        s.scalar(select(Case).where(Case.case_no == newer)).stage = "withdrawn"
        s.commit()
    items = client.get("/api/v1/conversations/conv-open-first/cases", headers=SERVICE).json()["items"]
    assert [i["case_no"] for i in items] == [older, newer]
