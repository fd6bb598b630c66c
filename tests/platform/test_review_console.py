"""The town reviewer's pages (/staff/review) and the API they read: who may open them, another town's
case answered like the API answers it (nothing of the case on the page), the reviewer's home, and
the review file (materials checklist, earlier opinions and notices, 容缺 record, open decisions)."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import delete

from erma.staff.auth import hash_password
from erma.staff.models import Staff
from tests.platform.conftest import DEMO_PASSWORD
from tests.platform.test_staff_sign_in import csrf, sign_in

CHIBUSU, TUMEN = "513223114", "513223107"
MX001_ALL = ["低保申请书（审批表）", "申请人居民身份证", "户口簿", "共同生活家庭成员身份证",
             "家庭经济状况核对授权书（全体成年家庭成员签字）", "家庭收入、财产状况申报及承诺"]
DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴


def test_signed_out_the_pages_send_to_sign_in_and_come_back(client, open_case):
    no = open_case()["case_no"]
    for path in ("/staff/review?town=" + CHIBUSU, f"/staff/review/cases/{no}"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/staff/login?next=" + quote(path, safe="")
    back = sign_in(client, "reviewer-chibusu", next_path=f"/staff/review/cases/{no}")
    assert back.headers["location"] == f"/staff/review/cases/{no}"


def test_a_reviewer_lands_on_the_review_queue_of_their_town(client):
    r = sign_in(client, "reviewer-chibusu")
    assert r.status_code == 303 and r.headers["location"] == "/staff/review"
    home = client.get("/staff/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/staff/review"
    page = client.get("/staff/review")
    assert page.status_code == 200
    assert 'data-town="513223114"' in page.text and "赤不苏镇 · 待审核办件" in page.text
    assert "龙小军" in page.text  # the staff bar
    assert 'id="town"' not in page.text  # one town: nothing to pick
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/staff/static/review.js"' in page.text
    assert client.get("/staff/static/review.js").status_code == 200
    assert client.get("/staff/static/review.css").status_code == 200


def test_another_towns_queue_by_url_is_refused_in_chinese(client):
    sign_in(client, "reviewer-chibusu")
    api = client.get(f"/api/v1/towns/{TUMEN}/review-queue")
    assert api.status_code == 403
    page = client.get(f"/staff/review?town={TUMEN}")
    assert page.status_code == 403
    assert api.json()["error"]["message"] in page.text
    assert "土门镇" not in page.text


def test_another_towns_case_by_url_is_the_apis_404_and_shows_nothing_of_the_case(client, open_case):
    case = open_case(hukou_town="土门镇", hukou_village=None, applicant_name="韩秀兰")
    no = case["case_no"]
    sign_in(client, "reviewer-chibusu")
    api = client.get(f"/api/v1/cases/{no}")
    assert api.status_code == 404
    page = client.get(f"/staff/review/cases/{no}")
    assert page.status_code == 404
    assert api.json()["error"]["message"] in page.text  # 没有找到办件“…”
    for secret in ("韩秀兰", case["id_number"], case["service_name"], "土门镇", "review.js", "data-case-no"):
        assert secret not in page.text
    # An unknown number answers the same way: nothing tells the two apart.
    unknown = client.get("/staff/review/cases/EM-20000101-9999")
    assert unknown.status_code == 404 and "没有找到办件" in unknown.text
    assert client.get(f"/api/v1/cases/{no}/review").status_code == 404
    assert client.post(f"/api/v1/cases/{no}/review", headers=csrf(client), json={"decision": "approve"}).status_code == 404


def test_own_towns_case_page_is_a_shell_the_script_fills(client, open_case):
    no = open_case()["case_no"]
    sign_in(client, "reviewer-chibusu")
    page = client.get(f"/staff/review/cases/{no.lower()}")
    assert page.status_code == 200
    assert f'data-case-no="{no}"' in page.text and 'data-town="513223114"' in page.text
    assert 'href="/staff/review?town=513223114"' in page.text


@pytest.mark.parametrize("username", ["agent-chibusu-1", "lead-1"])
def test_other_roles_get_the_no_permission_page(client, open_case, username):
    no = open_case()["case_no"]
    sign_in(client, username)
    for path in ("/staff/review", f"/staff/review/cases/{no}"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 403 and "没有权限" in r.text
        assert "杨子妹" not in r.text


def test_an_admin_picks_any_town(client, open_case):
    no = open_case(hukou_town="土门镇", hukou_village=None)["case_no"]
    sign_in(client, "admin")
    page = client.get("/staff/review")
    assert page.status_code == 200
    options = re.findall(r'<option value="(\d+)"', page.text)
    assert len(options) == 11 and CHIBUSU in options and TUMEN in options
    tumen = client.get(f"/staff/review?town={TUMEN}")
    assert 'data-town="513223107"' in tumen.text and '<option value="513223107" selected>' in tumen.text
    assert client.get(f"/staff/review/cases/{no}").status_code == 200


@pytest.fixture
def two_town_reviewer(db):
    with db() as s, s.begin():
        s.add(Staff(username="reviewer-two-towns", password_hash=hash_password(DEMO_PASSWORD), display_name="双镇审核",
                    role="town_reviewer", town_codes=[CHIBUSU, TUMEN]))
    yield "reviewer-two-towns"
    with db() as s, s.begin():
        s.execute(delete(Staff).where(Staff.username == "reviewer-two-towns"))


def test_a_reviewer_of_several_towns_picks_among_theirs_only(client, two_town_reviewer):
    sign_in(client, two_town_reviewer)
    page = client.get("/staff/review")
    assert re.findall(r'<option value="(\d+)"', page.text) == [TUMEN, CHIBUSU]  # town code order
    assert 'data-town="513223107"' in page.text
    assert 'data-town="513223114"' in client.get(f"/staff/review?town={CHIBUSU}").text
    assert client.get("/staff/review?town=513223101").status_code == 403
    assert client.get(f"/api/v1/towns/{TUMEN}/review-queue").status_code == 200


def test_the_review_file_checks_materials_and_offers_the_reviewers_decisions(client, login, open_case):
    no = open_case(materials_have=["申请人居民身份证", "户口簿"])["case_no"]
    reviewer = login("reviewer-chibusu")
    f = client.get(f"/api/v1/cases/{no}/review", headers=reviewer).json()
    status = {m["name"]: (m["status"], m["status_text"]) for m in f["checklist"]}
    assert status["户口簿"] == ("declared", "群众自述已有，待收取")
    assert status["低保申请书（审批表）"] == ("missing", "✗ 缺")
    assert status["委托代办书（代办时）"] == ("optional", "视情况提供")
    assert [m["name"] for m in f["checklist"]][:3] == ["低保申请书（审批表）", "申请人居民身份证", "户口簿"]
    assert {"form", "count", "required", "deferrable", "receipts", "can_defer"} <= set(f["checklist"][0])
    # Required materials are missing: no 审核通过 (the gate), and the file says why.
    assert [d["decision"] for d in f["decisions"]] == ["return", "reject"]
    assert [d["text"] for d in f["decisions"]] == ["退回补正", "不予受理"]
    assert "低保申请书（审批表）" in f["approve_blocked_reason"]
    assert f["decision_closed_reason"] is None
    assert f["opinions"] == [] and f["deficiency_notices"] == [] and f["deferral"] is None

    # The agent reads the same file but decides nothing; the service token is no reader.
    agent = client.get(f"/api/v1/cases/{no}/review", headers=login("agent-chibusu-1")).json()
    assert agent["decisions"] == [] and "审核人员" in agent["decision_closed_reason"]
    assert client.get(f"/api/v1/cases/{no}/review", headers={"Authorization": "Bearer dev-service-token"}).status_code == 403


def test_after_a_return_the_file_shows_the_opinion_and_the_notice_and_decisions_close(client, login, open_case):
    no = open_case(materials_have=MX001_ALL)["case_no"]
    reviewer = login("reviewer-chibusu")
    r = client.post(f"/api/v1/cases/{no}/review", headers=reviewer,
                    json={"decision": "return", "opinion": "户口簿复印件看不清",
                          "deficiencies": ["户口簿", "户口簿首页复印件（清晰）"]})
    assert r.status_code == 200, r.text
    f = client.get(f"/api/v1/cases/{no}/review", headers=reviewer).json()
    assert f["stage"] == "returned_for_correction" and f["decisions"] == []
    assert f["decision_closed_reason"] == "办件当前为“退回补正”，不在审核中，不能审核"
    assert [(o["decision_text"], o["opinion"], o["reviewer"]) for o in f["opinions"]] == [
        ("退回补正", "户口簿复印件看不清", "龙小军")]
    assert [(n["seq"], n["is_repeat"], n["materials"]) for n in f["deficiency_notices"]] == [
        (1, False, ["户口簿", "户口簿首页复印件（清晰）"])]
    assert {m["name"]: m["status"] for m in f["checklist"]}["户口簿"] == "missing"  # handed in, but not usable
    assert f["other_missing"] == ["户口簿首页复印件（清晰）"]

    # Resubmitted: back in review, and the reviewer may decide again.
    client.post(f"/api/v1/cases/{no}/resubmit", headers=login("agent-chibusu-1"), json={"materials_have": ["户口簿"]})
    again = client.get(f"/api/v1/cases/{no}/review", headers=reviewer).json()
    assert again["stage"] == "town_review" and len(again["decisions"]) == 3 and again["other_missing"] == []


def test_the_history_names_who_acted_and_the_stages_in_words(client, login, open_case):
    no = open_case()["case_no"]
    reviewer = login("reviewer-chibusu")
    client.post(f"/api/v1/cases/{no}/review", headers=reviewer, json={"decision": "approve"})
    items = client.get(f"/api/v1/cases/{no}/events", headers=reviewer).json()["items"]
    moves = [(e["actor_name"], e["from_text"], e["to_text"]) for e in items if e["kind"] == "transition"]
    assert moves[-1] == ("龙小军", "户籍地镇审核中", "户籍地镇审核通过")
    assert moves[:2] == [("智能助手", None, "已收件"), ("系统", "已收件", "户籍地镇审核中")]
    assert items[-1]["actor"] == "staff:reviewer-chibusu"  # the raw fields stay as they were


def test_the_deferral_record_is_in_the_file(client, login, open_case):
    no = open_case(service_code="MX-013")["case_no"]
    client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login("agent-chibusu-1"))
    assert r.status_code == 201, r.text
    f = client.get(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu")).json()
    assert f["deferral"]["form_no"] == r.json()["form_no"] and f["deferral"]["missing_materials"] == [DEFERRABLE]
    assert f["decisions"] == [] and "容缺受理" in f["decision_closed_reason"]
