"""Counter intake: a counter clerk registers a walk-in resident of any town at their own intake point
(POST /api/v1/cases), the case goes to the household town's review queue with the materials handed
in and the trip recorded, the receipt masks the ID number; what a clerk may and may not see; the
clerk's account (admin API, demo data) and the /staff/intake page."""
from __future__ import annotations

import uuid

import pytest
import yaml
from sqlalchemy import delete, select, update

from erma.cases.models import CaseVisit, MaterialReceipt
from erma.county_data import CountyDataError
from erma.staff.auth import hash_password
from erma.staff.models import Staff, StaffSession
from erma.staff.seed import load_staff
from tests.platform.conftest import DEMO_PASSWORD, SERVICE, case_body
from tests.platform.test_staff_sign_in import sign_in
from tests.synthetic import fresh_id_number, masked_id

VILLAGE_CLERK, TOWN_CLERK = "clerk-tumen-taian", "clerk-weimen"
VILLAGE_POINT, TOWN_POINT = "village:513223107:太安村", "town:513223111"
DIEXI, TUMEN = "513223102", "513223107"
# MX-005 临时救助（急难型）: on the 容缺 list; the 相关证明 may follow later.
MX005_TICKED = ["临时救助申请书", "申请人居民身份证", "户口簿"]
MX005_UNTICKED = ["遭遇困难情况说明（火灾、交通事故、突发重病等）", "相关证明（事故认定、诊断证明、火灾证明等）"]
DEFERRABLE = "相关证明（事故认定、诊断证明、火灾证明等）"


def walk_in(client, login, clerk: str = VILLAGE_CLERK, id_number: str | None = None, key: str | None = None,
            **overrides):
    """A walk-in registered at the clerk's counter: the form the intake page sends."""
    body = case_body(service_code="MX-005", applicant_name="王秀英", id_number=id_number or fresh_id_number(),
                     phone="13912345678", hukou_town="叠溪镇", hukou_village="较场村", current_location=None,
                     conversation_id=None, materials_have=[],
                     intake_point="online", channel="web_chat",  # the clerk's account decides these
                     materials_received=[{"name": n, "form": "original"} for n in MX005_TICKED])
    body.update(overrides)
    return client.post("/api/v1/cases", json=body,
                       headers={**login(clerk), "Idempotency-Key": key or f"counter-{uuid.uuid4()}"})


def test_a_clerks_case_takes_their_point_and_the_counter_channel_and_goes_to_the_household_town(client, login):
    r = walk_in(client, login)
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["intake_point"]["code"] == VILLAGE_POINT and case["intake_point"]["name"] == "土门镇太安村便民服务站"
    assert case["channel"] == "counter"
    assert case["hukou_town"] == {"code": DIEXI, "name": "叠溪镇"}
    queue = client.get(f"/api/v1/towns/{DIEXI}/review-queue", headers=login("reviewer-diexi")).json()["items"]
    assert case["case_no"] in [c["case_no"] for c in queue]
    # The clerk's own town (土门镇) does not review it.
    tumen = client.get(f"/api/v1/towns/{TUMEN}/review-queue", headers=login("reviewer-tumen")).json()["items"]
    assert case["case_no"] not in [c["case_no"] for c in tumen]


def test_the_trip_is_counted_with_the_place_and_the_reviewer_sees_the_ticked_materials(client, login):
    case = walk_in(client, login).json()
    assert case["visits"] == 1
    file = client.get(f"/api/v1/cases/{case['case_no']}/review", headers=login("reviewer-diexi")).json()
    assert [(v["purpose"], v["intake_point"], v["place"]) for v in file["visits"]] == \
        [("hand_in", VILLAGE_POINT, "土门镇太安村便民服务站")]
    status = {row["name"]: row["status"] for row in file["checklist"]}
    assert {name: status[name] for name in MX005_TICKED + MX005_UNTICKED} == {
        **{name: "received" for name in MX005_TICKED}, **{name: "missing" for name in MX005_UNTICKED}}
    places = {r["place"] for row in file["checklist"] for r in row["receipts"]}
    assert places == {"土门镇太安村便民服务站"}


def test_a_double_tap_opens_one_case_and_counts_one_trip(client, login):
    id_number, key = fresh_id_number(), f"counter-{uuid.uuid4()}"
    first = walk_in(client, login, id_number=id_number, key=key)
    second = walk_in(client, login, id_number=id_number, key=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["case_no"] == second.json()["case_no"]
    assert client.get(f"/api/v1/cases/{first.json()['case_no']}", headers=login(VILLAGE_CLERK)).json()["visits"] == 1


def test_the_receipt_masks_the_id_number_and_lists_what_is_missing(client, login):
    id_number = fresh_id_number()
    r = walk_in(client, login, id_number=id_number)
    receipt = r.json()["receipt"]
    assert id_number not in r.text  # the clerk typed it; nothing sends it back
    assert receipt["id_number"] == masked_id(id_number)
    assert receipt["case_no"] == r.json()["case_no"]
    assert receipt["intake_point_name"] == "土门镇太安村便民服务站"
    assert receipt["hukou_town"] == "叠溪镇"
    assert receipt["received"] == MX005_TICKED
    assert receipt["missing"] == MX005_UNTICKED
    assert receipt["can_defer"] == [DEFERRABLE]  # MX-005 is on the 容缺 list
    assert receipt["agent"]["credential_no"].startswith("茂代字")  # one of 叠溪镇's agents carries it
    assert receipt["expected_completion_date"] == r.json()["expected_completion_date"]


@pytest.fixture
def pointless_clerk(db):
    username = f"clerk-nowhere-{uuid.uuid4().hex[:6]}"
    with db() as s, s.begin():
        s.add(Staff(username=username, password_hash=hash_password(DEMO_PASSWORD), display_name="无点接件",
                    role="counter_clerk", town_codes=[]))
    yield username
    remove_staff(db, username)


def test_a_clerk_without_an_intake_point_gets_a_clear_422_and_nothing_opens(client, login, pointless_clerk):
    r = walk_in(client, login, clerk=pointless_clerk)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == "intake_point" and "接件点" in error["message"]
    sign_in(client, pointless_clerk)
    page = client.get("/staff/intake")
    assert page.status_code == 200 and "还没有设置接件点" in page.text and "intake.js" not in page.text


def test_a_clerk_reads_the_cases_of_their_own_point_only_and_masked(client, login, open_case):
    mine = walk_in(client, login).json()["case_no"]
    theirs = walk_in(client, login, clerk=TOWN_CLERK).json()["case_no"]
    online = open_case(hukou_town="土门镇", hukou_village=None)["case_no"]  # the clerk's own town, online
    clerk = login(VILLAGE_CLERK)
    own = client.get(f"/api/v1/cases/{mine}", headers=clerk)
    assert own.status_code == 200
    assert "*" in own.json()["id_number"] and "*" in own.json()["phone"]
    assert client.get(f"/api/v1/cases/{mine}/events", headers=clerk).status_code == 200
    for other in (theirs, online):
        r = client.get(f"/api/v1/cases/{other}", headers=clerk)
        assert r.status_code == 404 and r.json()["error"]["code"] == "case_not_found"


def test_a_clerk_opens_no_review_queue_no_review_file_and_no_case_list(client, login):
    no = walk_in(client, login).json()["case_no"]
    clerk = login(VILLAGE_CLERK)
    for town in (DIEXI, TUMEN):
        assert client.get(f"/api/v1/towns/{town}/review-queue", headers=clerk).status_code == 403
    assert client.get(f"/api/v1/cases/{no}/review", headers=clerk).status_code == 403
    assert client.get("/api/v1/cases", headers=clerk).status_code == 403
    moved = client.post(f"/api/v1/cases/{no}/transitions", json={"to": "withdrawn"}, headers=clerk)
    assert moved.status_code == 403 and moved.json()["error"]["code"] == "transition_forbidden"


def test_a_clerk_checks_fields_with_the_platforms_rules(client, login):
    clerk = login(VILLAGE_CLERK)
    bad = client.post("/api/v1/validation", json={"field": "id_number", "value": "513223198001010012"}, headers=clerk)
    assert bad.status_code == 200 and bad.json()["valid"] is False and bad.json()["field"] == "id_number"
    good = client.post("/api/v1/validation", json={"field": "phone", "value": "13912345678"}, headers=clerk)
    assert good.json()["valid"] is True


def test_a_clerk_lands_on_the_intake_page_of_their_counter(client):
    r = sign_in(client, VILLAGE_CLERK)
    assert r.status_code == 303 and r.headers["location"] == "/staff/intake"
    home = client.get("/staff/", follow_redirects=False)
    assert home.headers["location"] == "/staff/intake"
    page = client.get("/staff/intake")
    assert page.status_code == 200
    assert f'data-point="{VILLAGE_POINT}"' in page.text and "土门镇太安村便民服务站" in page.text
    assert "马秀芬" in page.text and "接件员" in page.text  # the staff bar
    assert '<script src="/staff/static/intake.js"' in page.text
    assert client.get("/staff/static/intake.js").status_code == 200
    assert client.get("/staff/static/intake.css").status_code == 200
    assert client.get("/staff/review", follow_redirects=False).status_code == 403


def test_a_reviewer_may_not_open_the_intake_page(client):
    sign_in(client, "reviewer-diexi")
    assert client.get("/staff/intake").status_code == 403


# ---------------------------------------------------------------- the clerk's account (county admin)

@pytest.fixture
def new_username(db):
    username = f"clerk-test-{uuid.uuid4().hex[:6]}"
    yield username
    remove_staff(db, username)


def remove_staff(db, username: str) -> None:
    """The account and what it recorded (the db fixture wipes the cases themselves afterwards)."""
    with db() as s, s.begin():
        staff_id = s.scalar(select(Staff.id).where(Staff.username == username))
        for model in (MaterialReceipt, CaseVisit):
            s.execute(delete(model).where(model.staff_id == staff_id))
        s.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
        s.execute(delete(Staff).where(Staff.id == staff_id))


def clerk_account(username: str, **overrides) -> dict:
    return {"username": username, "display_name": "赵接件", "role": "counter_clerk", "towns": [],
            "intake_point": TOWN_POINT, "mobile": "13908370499", "password": DEMO_PASSWORD, **overrides}


def test_an_admin_adds_a_clerk_only_with_a_known_counter_and_no_towns(client, login, new_username):
    admin = login("admin")
    listing = client.get("/api/v1/admin/staff", headers=admin).json()
    assert {"value": "counter_clerk", "text": "接件员（窗口/便民服务站）"} in listing["roles"]
    kinds = {p["kind"] for p in listing["intake_points"]}
    assert kinds == {"village_point", "town_centre", "county_window"}  # never the online point
    for overrides, field in (({"intake_point": ""}, "intake_point"), ({"intake_point": "online"}, "intake_point"),
                             ({"towns": [DIEXI]}, "towns")):
        r = client.post("/api/v1/admin/staff", json=clerk_account(new_username, **overrides), headers=admin)
        assert r.status_code == 422, r.text
        assert field in {e["field"] for e in r.json()["error"]["errors"]}
    r = client.post("/api/v1/admin/staff", json=clerk_account(new_username), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["intake_point"] == {"code": TOWN_POINT, "name": "渭门镇便民服务中心"}
    assert r.json()["role_text"] == "接件员"


def test_moving_a_clerk_to_another_counter_signs_them_out_and_moves_what_they_see(client, login, new_username):
    admin = login("admin")
    assert client.post("/api/v1/admin/staff", json=clerk_account(new_username), headers=admin).status_code == 201
    token = login(new_username)
    no = walk_in(client, login, clerk=new_username).json()["case_no"]
    assert client.get(f"/api/v1/cases/{no}", headers=token).status_code == 200
    r = client.patch(f"/api/v1/admin/staff/{new_username}", json={"intake_point": VILLAGE_POINT}, headers=admin)
    assert r.status_code == 200 and r.json()["intake_point"]["code"] == VILLAGE_POINT
    assert client.get(f"/api/v1/cases/{no}", headers=token).status_code == 401
    again = client.post("/api/v1/auth/login", json={"username": new_username, "password": DEMO_PASSWORD}).json()
    fresh = {"Authorization": f"Bearer {again['access_token']}"}
    assert client.get(f"/api/v1/cases/{no}", headers=fresh).status_code == 404  # the old counter's case


def test_other_roles_get_no_intake_point(client, login, new_username):
    body = clerk_account(new_username, role="duty_lead")
    r = client.post("/api/v1/admin/staff", json=body, headers=login("admin"))
    assert r.status_code == 422
    assert "intake_point" in {e["field"] for e in r.json()["error"]["errors"]}


def test_the_service_token_still_opens_online_cases_at_the_point_it_names(client):
    r = client.post("/api/v1/cases", json=case_body(), headers={**SERVICE, "Idempotency-Key": f"svc-{uuid.uuid4()}"})
    assert r.status_code == 201
    assert r.json()["intake_point"]["code"] == "online" and r.json()["channel"] == "web_chat"


@pytest.mark.parametrize("entry,words", [
    ({"role": "counter_clerk"}, "intake_point"),
    ({"role": "counter_clerk", "intake_point": "village:513223107:火星村"}, "不是已知的线下接件点"),
    ({"role": "counter_clerk", "intake_point": "online"}, "不是已知的线下接件点"),
])
def test_demo_staff_file_refuses_a_clerk_without_a_real_counter(db, tmp_path, entry, words):
    path = tmp_path / "staff.yaml"
    path.write_text(yaml.safe_dump({"demo_password": DEMO_PASSWORD, "staff": [
        {"username": "clerk-broken", "display_name": "错点", **entry}]}, allow_unicode=True), encoding="utf-8")
    with db() as s:
        with pytest.raises(CountyDataError, match=words):
            load_staff(s, path)
        s.rollback()


@pytest.fixture
def window_agent(db):
    """A demo agent set up to take walk-ins at their town's county window, put back afterwards."""
    with db() as s, s.begin():
        s.execute(update(Staff).where(Staff.username == "agent-chibusu-1")
                  .values(intake_point_code="county:window:513223114"))
    yield "agent-chibusu-1"
    with db() as s, s.begin():
        s.execute(update(Staff).where(Staff.username == "agent-chibusu-1").values(intake_point_code=None))


def test_an_agent_at_their_window_registers_a_walk_in_as_a_counter_case(client, login, window_agent):
    sign_in(client, window_agent)
    assert 'data-point="county:window:513223114"' in client.get("/staff/intake").text
    r = walk_in(client, login, clerk=window_agent, intake_point="county:window:513223114", channel="counter")
    assert r.status_code == 201, r.text
    assert r.json()["channel"] == "counter" and r.json()["visits"] == 1
    assert r.json()["receipt"]["intake_point_name"] == "尔玛云便民服务代办点赤不苏镇窗口"


def test_an_agent_without_a_window_is_told_so_on_the_intake_page(client):
    sign_in(client, "agent-diexi-1")
    page = client.get("/staff/intake")
    assert "还没有设置接件点" in page.text and "intake.js" not in page.text
