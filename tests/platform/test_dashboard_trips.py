"""最多跑一次 on the dashboard is measured from the recorded trips (erma.cases.visits): cases without a
recorded trip are 未记录 and left out of the share — a range with none shows no share at all, never
100 % — one and two trips give the right share, mean and places, per town and item and in the CSV,
and the daily summary rebuilt from scratch agrees with the trips counted straight from case_visits."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from erma.cases.models import CaseVisit
from erma.dashboard.models import DayCounts
from erma.dashboard.summary import mark_all, refresh
from tests.platform.conftest import holder

CB, NX = "513223114", "513223101"  # 赤不苏镇, 南新镇
VILLAGE, CENTRE, WINDOW = "village:513223101:别立村", "town:513223101", "county:window:513223114"


def _trip(client, login, case_no: str, purpose: str, point: str | None) -> dict:
    r = client.post(f"/api/v1/cases/{case_no}/visits", json={"purpose": purpose, "intake_point": point, "note": None},
                    headers=login(holder(case_no)))
    assert r.status_code == 200, r.text
    return r.json()


def _board(client, login, **params) -> dict:
    r = client.get("/api/v1/dashboard", params=params, headers=login("lead-1"))
    assert r.status_code == 200, r.text
    return r.json()


def _csv_total(client, login, **params) -> dict:
    r = client.get("/api/v1/dashboard.csv", params=params, headers=login("lead-1"))
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))[-1]


def _places(body: dict) -> dict:
    return {p["kind"]: p["visits"] for p in body["visit_places"]["by_kind"]}


def test_no_recorded_trip_is_unrecorded_not_a_hundred_percent(client, login, open_case):
    for n in range(2):
        open_case(conversation_id=f"trips-none-{n}")
    body = _board(client, login)
    unrecorded = {"total": 0, "recorded": 0, "unrecorded": 2, "mean": None, "at_most_one": 0,
                  "at_most_one_share": None}
    assert body["totals"]["visits"] == unrecorded
    assert {t["town_code"]: t["visits"] for t in body["by_town"]}[CB] == unrecorded
    assert [i["visits"] for i in body["by_item"]] == [unrecorded]
    assert body["visit_places"]["total"] == 0 and set(_places(body).values()) == {0}
    row = _csv_total(client, login, **{"from": body["from"], "to": body["to"]})
    assert (row["跑动总次数"], row["有跑动记录件数"], row["跑动未记录件数"], row["平均跑动次数"],
            row["最多跑一次件数"], row["最多跑一次比例(%)"]) == ("0", "0", "2", "", "0", "")
    assert "未记录" in body["definitions"]["visits"]


def test_one_and_two_trips_give_the_share_mean_and_places(client, login, open_case):
    once = open_case(conversation_id="trips-once")["case_no"]  # 赤不苏镇 MX-001
    twice = open_case(service_code="MX-030", hukou_town="南新镇", hukou_village="别立村",
                      conversation_id="trips-twice")["case_no"]
    open_case(conversation_id="trips-never")  # 赤不苏镇 MX-001, no trip: 未记录
    assert _trip(client, login, once, "hand_in", WINDOW)["visits"] == 1
    _trip(client, login, twice, "hand_in", VILLAGE)
    assert _trip(client, login, twice, "collect_result", CENTRE)["visits"] == 2

    body = _board(client, login)
    assert body["totals"]["visits"] == {"total": 3, "recorded": 2, "unrecorded": 1, "mean": 1.5, "at_most_one": 1,
                                        "at_most_one_share": 0.5}
    towns = {t["town_code"]: t["visits"] for t in body["by_town"]}
    assert towns[CB] == {"total": 1, "recorded": 1, "unrecorded": 1, "mean": 1.0, "at_most_one": 1,
                         "at_most_one_share": 1.0}
    assert towns[NX] == {"total": 2, "recorded": 1, "unrecorded": 0, "mean": 2.0, "at_most_one": 0,
                         "at_most_one_share": 0.0}
    items = {i["service_code"]: i["visits"] for i in body["by_item"]}
    assert items["MX-001"] == towns[CB] and items["MX-030"] == towns[NX]
    assert _places(body) == {"village_point": 1, "town_centre": 1, "county_window": 1, None: 0}
    assert body["visit_places"]["total"] == 3

    # One town: its figures and its trips' places only.
    mine = _board(client, login, town="南新镇")
    assert mine["totals"]["visits"] == towns[NX]
    assert _places(mine) == {"village_point": 1, "town_centre": 1, "county_window": 0, None: 0}
    row = _csv_total(client, login, **{"from": body["from"], "to": body["to"]})
    assert (row["跑动总次数"], row["有跑动记录件数"], row["跑动未记录件数"], row["平均跑动次数"],
            row["最多跑一次件数"], row["最多跑一次比例(%)"]) == ("3", "2", "1", "1.50", "1", "50.0")


def test_the_rebuilt_summary_agrees_with_the_recorded_trips(client, login, db, open_case):
    cases = [open_case(conversation_id=f"trips-rebuild-{n}")["case_no"] for n in range(4)]
    for case_no, trips in zip(cases, (1, 2, 3, 0)):
        for _ in range(trips):
            _trip(client, login, case_no, "supplement", None)
    looked = _board(client, login)["totals"]["visits"]  # the summary kept up by each change
    with db() as s:
        kept = s.execute(select(func.sum(DayCounts.visits), func.sum(DayCounts.visits_recorded),
                                func.sum(DayCounts.visits_le1))).one()
        per_case = s.execute(select(CaseVisit.case_id, func.count()).group_by(CaseVisit.case_id)).all()
        assert mark_all(s) > 0
        s.commit()
        refresh(s)
        rebuilt = s.execute(select(func.sum(DayCounts.visits), func.sum(DayCounts.visits_recorded),
                                   func.sum(DayCounts.visits_le1))).one()
    counted = (sum(n for _, n in per_case), len(per_case), sum(1 for _, n in per_case if n == 1))
    assert tuple(kept) == tuple(rebuilt) == counted == (6, 3, 1)
    assert looked == {"total": 6, "recorded": 3, "unrecorded": 1, "mean": 2.0, "at_most_one": 1,
                      "at_most_one_share": 0.3333}
    assert _board(client, login)["totals"]["visits"] == looked
