"""The county's place and demo staff data hang together (catalog/places.yaml, demo_staff.yaml)."""
from collections import Counter
from datetime import date, timedelta

import pytest
import yaml

from erma.phones import validate_mobile
from erma.settings import ROOT

NBS_TOWNS = {
    "513223100": "凤仪镇",
    "513223101": "南新镇",
    "513223102": "叠溪镇",
    "513223105": "富顺镇",
    "513223107": "土门镇",
    "513223109": "洼底镇",
    "513223110": "沙坝镇",
    "513223111": "渭门镇",
    "513223112": "黑虎镇",
    "513223113": "沟口镇",
    "513223114": "赤不苏镇",
}
SEAT = "513223100"
ROLES = {"agent", "town_reviewer", "duty_lead", "admin", "counter_clerk"}


def load(name: str) -> dict:
    with open(ROOT / "catalog" / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def places() -> dict:
    return load("places.yaml")


@pytest.fixture(scope="module")
def staff_file() -> dict:
    return load("demo_staff.yaml")


@pytest.fixture(scope="module")
def staff(staff_file) -> list[dict]:
    return staff_file["staff"]


# --- places ---

def test_eleven_towns_with_nbs_codes(places):
    towns = {t["code"]: t["name"] for t in places["towns"]}
    assert towns == NBS_TOWNS
    assert [t["code"] for t in places["towns"] if t["county_seat"]] == [SEAT]


def test_short_names_and_pinyin_are_unique(places):
    for key in ("short_name", "pinyin"):
        values = [t[key] for t in places["towns"]]
        assert len(set(values)) == len(values)
    for town in places["towns"]:
        assert town["name"].startswith(town["short_name"])


def test_every_alias_points_to_an_existing_town(places):
    codes = {t["code"] for t in places["towns"]}
    for alias in places["aliases"]:
        assert alias["town_code"] in codes, alias
        assert isinstance(alias["confirmed"], bool), alias


def test_aliases_are_unique_and_never_another_towns_name(places):
    names = Counter(a["name"] for a in places["aliases"])
    assert [n for n, c in names.items() if c > 1] == []
    for alias in places["aliases"]:
        for town in places["towns"]:
            if town["code"] != alias["town_code"]:
                assert alias["name"] not in (town["name"], town["short_name"]), alias


def test_confirmed_merges_from_domain_notes(places):
    alias = {a["name"]: a for a in places["aliases"]}
    for name, code in [("永和乡", "513223111"), ("永和", "513223111"), ("东兴", "513223107"),
                       ("东兴乡", "513223107"), ("飞虹", "513223113"), ("飞虹乡", "513223113")]:
        assert alias[name]["town_code"] == code
        assert alias[name]["confirmed"] is True
    assert alias["曲谷"]["confirmed"] is False


def test_known_villages(places):
    villages = {t["code"]: t["villages"] for t in places["towns"]}
    assert "雅都村" in villages["513223114"]
    assert len(villages["513223113"]) == 12
    assert len(villages["513223111"]) == 9
    for town_villages in villages.values():
        assert len(set(town_villages)) == len(town_villages)


def test_intake_point_codes_unique_and_kinds_known(places):
    points = places["intake_points"]
    codes = [p["code"] for p in points]
    assert len(set(codes)) == len(codes)
    town_codes = {t["code"] for t in places["towns"]}
    for point in points:
        assert point["kind"] in {"county_window", "town_centre", "village_point", "online"}
        assert point["name"]
        if point["kind"] != "online":
            assert point["town_code"] in town_codes, point


def test_one_county_window_per_non_seat_town(places):
    windows = [p for p in places["intake_points"] if p["kind"] == "county_window"]
    assert len(windows) == 10
    assert {w["window_for"] for w in windows} == set(NBS_TOWNS) - {SEAT}
    for window in windows:
        assert window["town_code"] == SEAT  # physically at the 尔玛云 point in 凤仪镇
        assert window["code"] == f"county:window:{window['window_for']}"
        assert NBS_TOWNS[window["window_for"]] in window["name"]


def test_town_centres(places):
    centres = [p for p in places["intake_points"] if p["kind"] == "town_centre"]
    assert {c["town_code"] for c in centres} == set(NBS_TOWNS)
    for code in NBS_TOWNS:
        assert any(c["code"] == f"town:{code}" for c in centres)
    kept_old = {c["code"] for c in centres if c["code"].count(":") == 2}
    assert {"town:513223111:永和", "town:513223107:东兴", "town:513223113:飞虹"} <= kept_old


def test_a_village_point_for_every_known_village(places):
    points = {p["code"]: p for p in places["intake_points"] if p["kind"] == "village_point"}
    expected = {f"village:{t['code']}:{v}" for t in places["towns"] for v in t["villages"]}
    assert set(points) == expected
    assert points["village:513223114:雅都村"]["name"] == "赤不苏镇雅都村便民服务站"


def test_online_point(places):
    assert [p["code"] for p in places["intake_points"] if p["kind"] == "online"] == ["online"]


def test_service_point_facts(places):
    point = places["service_point"]
    assert "凤仪镇" in point["address"]
    assert point["fee"] == "免费"
    assert point["opening_hours"]["text"]
    assert point["opening_hours"]["inferred"] is True


# --- demo staff ---

def test_marked_as_demo(staff_file):
    assert staff_file["demo"] is True
    assert staff_file["demo_password"] == "erma-demo-2026"


def test_usernames_unique_and_roles_known(staff):
    names = [s["username"] for s in staff]
    assert len(set(names)) == len(names)
    assert {s["role"] for s in staff} == ROLES
    for member in staff:
        assert member["display_name"]


def test_two_agents_per_town_except_the_seat(staff):
    agents = [s for s in staff if s["role"] == "agent"]
    assert len(agents) == 20
    per_town = Counter(a["town_code"] for a in agents)
    assert per_town == {code: 2 for code in NBS_TOWNS if code != SEAT}


def test_agent_credential_numbers_unique(staff):
    numbers = [s["credential_no"] for s in staff if s["role"] == "agent"]
    assert all(numbers)
    assert len(set(numbers)) == len(numbers)


def test_one_reviewer_per_town(staff):
    reviewers = [s for s in staff if s["role"] == "town_reviewer"]
    assert len(reviewers) == 11
    assert sorted(code for r in reviewers for code in r["towns"]) == sorted(NBS_TOWNS)


def test_duty_leads_and_admin(staff):
    assert len([s for s in staff if s["role"] == "duty_lead"]) == 3
    assert len([s for s in staff if s["role"] == "admin"]) == 1


def test_one_demo_clerk_at_each_kind_of_counter(staff, places):
    points = {p["code"]: p for p in places["intake_points"]}
    clerks = [s for s in staff if s["role"] == "counter_clerk"]
    assert all(c["intake_point"] in points and not c.get("towns") for c in clerks)
    assert sorted(points[c["intake_point"]]["kind"] for c in clerks) == ["county_window", "town_centre", "village_point"]


def test_phones_are_valid_mobiles_and_unique(staff):
    phones = [validate_mobile(s["mobile"]) for s in staff]
    assert len(set(phones)) == len(phones)


def test_rota_is_contiguous_weekly_and_names_duty_leads(staff_file, staff):
    leads = {s["username"] for s in staff if s["role"] == "duty_lead"}
    rota = staff_file["duty_rota"]
    assert rota
    for shift in rota:
        assert shift["username"] in leads
        assert isinstance(shift["start_date"], date) and isinstance(shift["end_date"], date)
        assert shift["start_date"] <= shift["end_date"]
    for previous, current in zip(rota, rota[1:]):
        assert current["start_date"] == previous["end_date"] + timedelta(days=1)
        assert current["username"] != previous["username"]
    assert {s["username"] for s in rota} == leads
