"""Status lookups by case number + last four digits, and 好差评 ratings with follow-up."""
from __future__ import annotations

import pytest

from tests.platform.conftest import SERVICE, VALID_ID, VALID_PHONE


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
                                       ("非常不满意", 1), (5, 5), ("打4分", 4), ("3星", 3), ("1", 1)])
def test_five_levels_in_words_or_numbers(client, login, open_case, raw, level):
    no = open_case()["case_no"]
    _complete(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": raw}, headers=SERVICE)
    assert r.status_code == 200, r.text
    assert r.json()["level"] == level
    assert r.json()["follow_up"] is (level <= 2)


def test_rating_needs_a_completed_case_and_happens_once(client, login, open_case):
    no = open_case()["case_no"]
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": 5}, headers=SERVICE)
    assert r.status_code == 409
    _complete(client, login, no)
    assert client.post(f"/api/v1/cases/{no}/rating", json={"level": 5}, headers=SERVICE).status_code == 200
    assert client.post(f"/api/v1/cases/{no}/rating", json={"level": 1}, headers=SERVICE).status_code == 409


def test_unknown_level_is_422_in_chinese(client, login, open_case):
    no = open_case()["case_no"]
    _complete(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": "还行吧"}, headers=SERVICE)
    assert r.status_code == 422 and "非常满意" in r.json()["error"]["message"]


def test_bad_rating_opens_a_follow_up_for_the_duty_lead(client, login, open_case):
    no = open_case()["case_no"]
    _complete(client, login, no)
    r = client.post(f"/api/v1/cases/{no}/rating", json={"level": "不满意", "comment": "等太久"}, headers=SERVICE)
    assert r.json()["follow_up"] is True and r.json()["follow_up_due"]
    lead = login("lead-1")
    tasks = client.get("/api/v1/followup-tasks", headers=lead).json()["items"]
    assert [(t["case_no"], t["kind"]) for t in tasks] == [(no, "bad_rating")]
    assert tasks[0]["due_date"] == r.json()["follow_up_due"]
    assert client.get("/api/v1/followup-tasks", headers=login("agent-chibusu-1")).status_code == 403
    done = client.post(f"/api/v1/followup-tasks/{tasks[0]['id']}/complete", json={"outcome": "已电话回访，解释原因"}, headers=lead)
    assert done.json()["status"] == "done"
    assert client.get(f"/api/v1/cases/{no}", headers=lead).json()["stage"] == "followed_up"
