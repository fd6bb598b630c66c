"""The household town's review queue and its decisions."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from erma.cases.models import Case
from erma.review.models import DeficiencyNotice, ReviewOpinion


def test_queue_is_per_town_oldest_first_with_age(client, login, open_case, db):
    first, second = open_case()["case_no"], open_case()["case_no"]
    other_town = open_case(hukou_town="土门镇", hukou_village=None)["case_no"]
    with db() as s, s.begin():
        old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30)
        s.execute(update(Case).where(Case.case_no == second).values(stage_changed_at=old))
    items = client.get("/api/v1/towns/513223114/review-queue", headers=login("reviewer-chibusu")).json()["items"]
    assert [i["case_no"] for i in items] == [second, first]
    assert items[0]["age_hours"] >= 29.9
    assert other_town not in [i["case_no"] for i in items]
    assert items[0]["id_number"] == "513223********0011"


def test_reviewer_cannot_see_another_towns_queue_or_cases(client, login, open_case):
    no = open_case()["case_no"]
    tumen = login("reviewer-tumen")
    assert client.get("/api/v1/towns/513223114/review-queue", headers=tumen).status_code == 403
    assert client.get(f"/api/v1/cases/{no}", headers=tumen).status_code == 404
    r = client.post(f"/api/v1/cases/{no}/review", headers=tumen, json={"decision": "approve"})
    assert r.status_code == 404


def test_return_needs_the_complete_list_and_an_opinion(client, login, open_case):
    no = open_case()["case_no"]
    reviewer = login("reviewer-chibusu")
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json={"decision": "return", "opinion": "材料不全"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "deficiencies"
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json={"decision": "reject"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "opinion"


def test_opinion_and_one_time_notice_are_stored_and_second_notice_is_marked(client, login, open_case, db):
    no = open_case()["case_no"]
    reviewer = login("reviewer-chibusu")
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer,
                    json={"decision": "return", "opinion": "请补齐", "deficiencies": ["户口簿", "家庭经济状况核对授权书（全体成年家庭成员签字）"]})
    assert r.json()["deficiency_notice"] == {"seq": 1, "is_repeat": False,
                                             "materials": ["户口簿", "家庭经济状况核对授权书（全体成年家庭成员签字）"]}
    client.post(f"/api/v1/cases/{no}/resubmit", json={"materials_have": ["户口簿"]}, headers=login("agent-chibusu-1"))
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer,
                    json={"decision": "return", "opinion": "漏了一项", "deficiencies": ["共同生活家庭成员身份证"]})
    assert r.json()["deficiency_notice"]["seq"] == 2 and r.json()["deficiency_notice"]["is_repeat"] is True
    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        notices = s.scalars(select(DeficiencyNotice).where(DeficiencyNotice.case_id == case.id).order_by(DeficiencyNotice.seq)).all()
        opinions = s.scalars(select(ReviewOpinion).where(ReviewOpinion.case_id == case.id).order_by(ReviewOpinion.id)).all()
    assert [n.is_repeat for n in notices] == [False, True]
    assert [o.opinion for o in opinions] == ["请补齐", "漏了一项"]


def test_returned_clock_pauses(client, login, open_case, db):
    case = open_case()
    no = case["case_no"]
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"),
                json={"decision": "return", "opinion": "补", "deficiencies": ["户口簿"]})
    with db() as s, s.begin():
        ten_days_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)
        s.execute(update(Case).where(Case.case_no == no).values(stage_changed_at=ten_days_ago))
    client.post(f"/api/v1/cases/{no}/resubmit", json={"materials_have": ["户口簿"]}, headers=login("agent-chibusu-1"))
    after = client.get(f"/api/v1/cases/{no}", headers=login("agent-chibusu-1")).json()
    assert after["expected_completion_date"] > case["expected_completion_date"]


def test_a_decision_sent_again_after_a_lost_answer_is_answered_again_not_refused(client, login, open_case, db):
    """On a weak phone connection the reviewer sends again; the decision is recorded, pushed and
    noticed once, and the retry gets the same answer instead of a 409."""
    from erma.outbox.models import OutboxMessage

    no = open_case()["case_no"]
    reviewer = login("reviewer-chibusu")
    body = {"decision": "return", "opinion": "请补齐", "deficiencies": ["户口簿"]}
    first = client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json=body)
    assert first.status_code == 200 and first.json()["repeated"] is False
    with db() as s:
        pushes = s.scalar(select(func.count()).select_from(OutboxMessage))
    again = client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json=body)
    assert again.status_code == 200, again.text
    assert again.json() == {**first.json(), "repeated": True}
    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == no))
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == pushes  # nothing pushed twice
        assert len(s.scalars(select(DeficiencyNotice).where(DeficiencyNotice.case_id == case.id)).all()) == 1
        assert len(s.scalars(select(ReviewOpinion).where(ReviewOpinion.case_id == case.id)).all()) == 1
    # A different decision on the decided case is still refused, with the reason in Chinese.
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json={"decision": "approve"})
    assert r.status_code == 409 and r.json()["error"]["message"]
    # So is the same list from another reviewer of the town (not a retry of theirs).
    r = client.post(f"/api/v1/cases/{no}/review", headers=login("admin"), json=body)
    assert r.status_code == 409


def test_the_assistants_token_does_not_read_the_review_queue(client, login, open_case):
    """The queue names every applicant of a town; the assistant never reads it (actions/ does not)."""
    from tests.platform.conftest import SERVICE

    open_case()
    r = client.get("/api/v1/towns/513223114/review-queue", headers=SERVICE)
    assert r.status_code == 403 and "杨子妹" not in r.text
    items = client.get("/api/v1/towns/513223114/review-queue", headers=login("reviewer-chibusu")).json()["items"]
    assert [i["applicant_name"] for i in items] == ["杨子妹"]
