"""The county dashboard: figures of a seeded data set recomputed here by plain Python over the stored
records, the CSV export (opens as UTF-8 with BOM, no personal data), date and town filters, and who
may see what (duty leads and admins the county, reviewers and agents only their own towns)."""
from __future__ import annotations

import csv
import datetime as dt
from fractions import Fraction
import io

import pytest
from sqlalchemy import select

from erma.cases.intake import CaseCreate, create_case
from erma.cases.lifecycle import transition
from erma.cases.visits import record_visit
from erma.cases.models import Case, CaseEvent, CaseVisit
from erma.cases.stages import OPEN_STAGES, Stage
from erma.catalog.service import get_item
from erma.clock import local_midnight_utc, local_zone, today_local
from erma.conversations.handoff import request_handoff
from erma.conversations.models import HandoffRequest
from erma.conversations.service import open_conversation
from erma.db import as_utc, utcnow
from erma.deferral.models import Deferral
from erma.deferral.service import open_deferral, record_supplement
from erma.followup.models import Rating
from erma.followup.service import rate_case
from erma.lead.service import overdue_cases
from erma.review.service import decide, resubmit
from erma.staff.auth import Principal
from erma.staff.models import Staff
from tests.platform.conftest import SERVICE

CB, NX, TM = "513223114", "513223101", "513223107"  # 赤不苏镇, 南新镇, 土门镇
TOWN_NAME = {CB: "赤不苏镇", NX: "南新镇", TM: "土门镇"}
TOWN_USER = {CB: "chibusu", NX: "nanxin", TM: "tumen"}
COUNTY_WINDOW, TOWN_CENTRE = "county:window:513223114", "town:513223114"  # 赤不苏镇's window and centre
PHOTO = "近期免冠证件照片（电子版）"  # deferrable in MX-014 and MX-030
NAMES = ["杨子妹", "王建华", "余秀英", "马国强", "陈晓燕", "周永福", "何德兰", "苏明亮", "韩春花", "罗志刚",
         "龙玉梅", "唐树林", "胡小琴", "刘德才", "孙桂英", "赵长生"]


def _id_number(n: int) -> str:
    body = f"513223{1950 + n:04d}{n % 12 + 1:02d}{n % 28 + 1:02d}{n:03d}"  # region, birth date, sequence
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def _principal(s, username: str) -> Principal:
    staff = s.scalar(select(Staff).where(Staff.username == username))
    return Principal(role=staff.role, staff=staff, towns=frozenset(staff.town_codes or []))


def on(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """hour:minute China time on `day`, as the UTC moment the platform stores."""
    return local_midnight_utc(day) + dt.timedelta(hours=hour, minutes=minute)


class Seeder:
    """Opens and moves cases through the platform's own service functions, at chosen moments."""

    def __init__(self, s, now: dt.datetime):
        self.s, self.now, self.today = s, now, today_local(now)
        self.pii = {"names": [], "ids": [], "phones": [], "case_nos": []}

    def at(self, days_ago: int, hour: int = 12, minute: int = 0) -> dt.datetime:
        """A moment on the China date `days_ago` days before today, at hour:minute China time."""
        return on(self.today - dt.timedelta(days=days_ago), hour, minute)

    def case(self, town: str, code: str, when: dt.datetime, *, missing: tuple[str, ...] = (),
             channel: str = "web_chat", conversation_id: str | None = None) -> Case:
        n = len(self.pii["names"])
        name, id_number, phone = NAMES[n % len(NAMES)], _id_number(n), f"139{n:08d}"
        item = get_item(self.s, code)
        have = [m.name for m in item.materials if m.required and m.name not in missing]
        body = CaseCreate(service_code=code, applicant_name=name, id_number=id_number, phone=phone,
                          hukou_town=TOWN_NAME[town], intake_point="online", channel=channel,
                          conversation_id=conversation_id, materials_have=have)
        case, _ = create_case(self.s, body, Principal(role="service"), None, now=when)
        for key, value in (("names", name), ("ids", id_number), ("phones", phone), ("case_nos", case.case_no)):
            self.pii[key].append(value)
        return case

    def reviewer(self, case: Case) -> Principal:
        return _principal(self.s, f"reviewer-{TOWN_USER[case.hukou_town_code]}")

    def agent(self, case: Case) -> Principal:
        """The agent holding the case (only they move it)."""
        staff = self.s.get(Staff, case.agent_id)
        return Principal(role=staff.role, staff=staff, towns=frozenset(staff.town_codes or []))

    def approve(self, case: Case, when: dt.datetime, decision: str = "approve") -> None:
        decide(self.s, case, self.reviewer(case), decision, None, now=when)

    def move(self, case: Case, to: Stage, when: dt.datetime, note: str | None = None) -> None:
        transition(self.s, case, to, self.agent(case), note, now=when)
        self.s.commit()

    def complete(self, case: Case, approved: dt.datetime, when: dt.datetime) -> None:
        self.approve(case, approved)
        self.move(case, Stage.AT_DEPARTMENT, approved + dt.timedelta(hours=1))
        self.move(case, Stage.COMPLETED, when, "准予办理")

    def visits(self, case: Case, count: int, point: str | None = None, purpose: str = "supplement") -> None:
        """`count` trips of the resident to `point` (None: no place, as trips recorded before places were)."""
        for _ in range(count):
            record_visit(self.s, case, self.agent(case), purpose, point)
        self.s.commit()

    def rate(self, case: Case, level: int, when: dt.datetime) -> None:
        rate_case(self.s, case, Principal(role="service"), level, None, "web_chat", now=when)


def seed(s, now: dt.datetime) -> Seeder:
    sd = Seeder(s, now)
    # 赤不苏镇 MX-001: completed on time, rated 非常满意; one trip, to the county window.
    # (recorded here, so that the figures do not hang on what counter intake records by itself)
    c = sd.case(CB, "MX-001", sd.at(80))
    sd.visits(c, 1, COUNTY_WINDOW, "hand_in")
    sd.complete(c, sd.at(79), sd.at(70))
    sd.rate(c, 5, sd.at(69))
    # 赤不苏镇 MX-001: completed three days after its promised date, rated 非常不满意 (差评); two trips.
    c = sd.case(CB, "MX-001", sd.at(80, 9))
    late = local_midnight_utc(c.expected_completion_date + dt.timedelta(days=3)) + dt.timedelta(hours=10)
    assert late < now - dt.timedelta(days=1)
    sd.complete(c, sd.at(79), late)
    sd.visits(c, 2, TOWN_CENTRE)
    sd.rate(c, 1, late + dt.timedelta(hours=2))
    # The promised date and the deadline are China dates: 23:30 on the day is in time, 07:00 the next
    # morning (still the same date in UTC) is late.
    c = sd.case(CB, "MX-001", sd.at(85))
    sd.complete(c, sd.at(84), on(c.expected_completion_date, 23, 30))
    c = sd.case(NX, "MX-001", sd.at(85))
    sd.complete(c, sd.at(84), on(c.expected_completion_date + dt.timedelta(days=1), 7))
    # 赤不苏镇 MX-014 容缺: supplied late on the deadline day, then completed after its promised date, rated 满意.
    c = sd.case(CB, "MX-014", sd.at(60), missing=(PHOTO,))
    sd.approve(c, sd.at(59), "approve_deferral")  # 同意容缺: the photo may follow
    deferral = open_deferral(s, c, sd.agent(c), [PHOTO], now=sd.at(58))
    record_supplement(s, c, sd.agent(c), now=on(deferral.deadline, 23))
    sd.move(c, Stage.AT_DEPARTMENT, on(deferral.deadline + dt.timedelta(days=1), 10))
    # (the 容缺 deadline falls inside the promised time limit: completion waits until after both)
    done = max(deferral.deadline, c.expected_completion_date) + dt.timedelta(days=2)
    sd.move(c, Stage.COMPLETED, on(done, 10), "准予办理")
    assert c.expected_completion_date < done
    sd.rate(c, 4, on(done + dt.timedelta(days=1), 10))
    # 赤不苏镇 MX-014 容缺, never supplied: overdue; its (assistant-only) conversation went to a person.
    c = sd.case(CB, "MX-014", sd.at(40), missing=(PHOTO,), conversation_id="rasa-only-1")
    sd.approve(c, sd.at(39), "approve_deferral")  # 同意容缺: the photo may follow
    open_deferral(s, c, sd.agent(c), [PHOTO], now=sd.at(38))
    # (recorded before the platform refused handoffs for conversations it does not hold: history stays counted)
    s.add(HandoffRequest(conversation_id="rasa-only-1", channel="web_chat", reason="fallback", created_at=sd.at(40, 13)))
    # 南新镇 MX-030 容缺, supplied at 07:00 the morning after the deadline: late.
    c = sd.case(NX, "MX-030", sd.at(50), missing=(PHOTO,))
    sd.approve(c, sd.at(49), "approve_deferral")  # 同意容缺: the photo may follow
    deferral = open_deferral(s, c, sd.agent(c), [PHOTO], now=sd.at(48))
    record_supplement(s, c, sd.agent(c), now=on(deferral.deadline + dt.timedelta(days=1), 7))
    # 南新镇 MX-030 容缺, deadline still ahead: neither on time nor late yet.
    c = sd.case(NX, "MX-030", sd.at(3), missing=(PHOTO,))
    sd.approve(c, sd.at(2), "approve_deferral")  # 同意容缺: the photo may follow
    open_deferral(s, c, sd.agent(c), [PHOTO], now=sd.at(2, 15))
    # 南新镇 MX-001 in review for 10 days, from a WeChat gateway conversation handed to a person; two trips.
    conv, _ = open_conversation(s, "wechat", "openid-dash-1", now=sd.at(10, 8))
    c = sd.case(NX, "MX-001", sd.at(10), channel="wechat", conversation_id=conv.id)
    sd.visits(c, 2)
    request_handoff(s, conv.id, "wechat", "requested", now=sd.at(10, 14))
    # 南新镇 MX-001 returned for correction.
    c = sd.case(NX, "MX-001", sd.at(5))
    decide(s, c, sd.reviewer(c), "return", "户口簿页不清楚", ["户口簿"], now=sd.at(4))
    # 土门镇 MX-001 rejected; 土门镇 MX-030 in review from a web-chat conversation that stayed with the assistant.
    c = sd.case(TM, "MX-001", sd.at(20))
    decide(s, c, sd.reviewer(c), "reject", "不符合条件", now=sd.at(19))
    conv, _ = open_conversation(s, "web_chat", now=sd.at(1, 9))
    sd.case(TM, "MX-030", sd.at(1), conversation_id=conv.id)
    # Around the default range's first day (89 days ago), in China time: 00:30 is in, 23:30 the day before is out.
    sd.case(CB, "MX-001", sd.at(89, 0, 30))
    sd.case(CB, "MX-001", sd.at(90, 23, 30))
    # Long ago, and just now.
    sd.case(CB, "MX-001", sd.at(200))
    sd.case(CB, "MX-005", now - dt.timedelta(minutes=1))
    # Gateway conversations without a case: one handed to a person, one not, one long ago.
    conv, _ = open_conversation(s, "web_chat", now=sd.at(30))
    request_handoff(s, conv.id, "web_chat", "requested", now=sd.at(30, 13))
    open_conversation(s, "web_chat", now=sd.at(12))
    open_conversation(s, "web_chat", now=sd.at(200))
    s.commit()
    return sd


# ---------------------------------------------------------------- the figures, recomputed independently

def _local_date(value: dt.datetime) -> dt.date:
    return as_utc(value).astimezone(local_zone()).date()


def _half_up(x: Fraction, places: int) -> Fraction:
    """x (not negative) to `places` decimals, halves rounded up (四舍五入)."""
    return Fraction((x * 10 ** places * 2 + 1) // 2, 10 ** places)


def _share(part, whole):
    return float(_half_up(Fraction(part, whole), 4)) if whole else None


def _expected(s, start: dt.date, end: dt.date, towns: set[str] | None, now: dt.datetime) -> dict:
    """totals / by_town / by_item, from the stored records with plain Python."""
    today = today_local(now)
    cases = [c for c in s.scalars(select(Case))
             if start <= _local_date(c.created_at) <= end and (towns is None or c.hukou_town_code in towns)]
    completed_at: dict[int, dt.datetime] = {}
    for e in s.scalars(select(CaseEvent).where(CaseEvent.to_stage == "completed")):
        completed_at[e.case_id] = min(as_utc(e.at), completed_at.get(e.case_id, as_utc(e.at)))
    deferrals = {d.case_id: d for d in s.scalars(select(Deferral))}
    ratings = {r.case_id: r.level for r in s.scalars(select(Rating))}
    handed_off = {h.conversation_id for h in s.scalars(select(HandoffRequest))}
    trips: dict[int, int] = {}  # the recorded trips (case_visits rows), not the count kept on the case
    for case_id in s.scalars(select(CaseVisit.case_id)):
        trips[case_id] = trips.get(case_id, 0) + 1
    open_values = {st.value for st in OPEN_STAGES}
    # 退回补正 pauses the promised-date clock (domain-notes §2.6): such a case waits for the resident and
    # is never overdue; the pause moves its promised date on when it is resubmitted.
    paused = {"returned_for_correction"}

    def figures(group: list[Case]) -> dict:
        opened = [c for c in group if c.stage in open_values]
        ages = [(now - as_utc(c.created_at)).total_seconds() / 86400 for c in opened]
        done = [c for c in group if c.id in completed_at]
        on_time = [c for c in done if _local_date(completed_at[c.id]) <= c.expected_completion_date]
        deferred = [deferrals[c.id] for c in group if c.id in deferrals]
        due = [d for d in deferred if d.supplied_at is not None or d.deadline < today]
        supplied_on_time = [d for d in due if d.supplied_at is not None and _local_date(d.supplied_at) <= d.deadline]
        levels = [ratings[c.id] for c in group if c.id in ratings]
        chat = [c for c in group if c.conversation_id]
        n = len(group)
        # 最多跑一次 over the cases with a recorded trip; the others are 未记录, not successes.
        recorded = [trips[c.id] for c in group if trips.get(c.id)]
        return {
            "cases": n,
            "by_stage": {st.value: sum(1 for c in group if c.stage == st.value) for st in Stage},
            "open": {"count": len(opened),
                     "overdue": sum(1 for c in opened if c.stage not in paused and c.expected_completion_date < today),
                     "age_days": {"0-3": sum(1 for a in ages if a < 3), "3-7": sum(1 for a in ages if 3 <= a < 7),
                                  "7-15": sum(1 for a in ages if 7 <= a < 15),
                                  "15-30": sum(1 for a in ages if 15 <= a < 30), "30+": sum(1 for a in ages if a >= 30)},
                     "oldest_days": int(max(ages)) if ages else None},
            "completion": {"completed": len(done), "on_time": len(on_time), "on_time_rate": _share(len(on_time), len(done))},
            "visits": {"total": sum(recorded), "recorded": len(recorded), "unrecorded": n - len(recorded),
                       "mean": float(_half_up(Fraction(sum(recorded), len(recorded)), 2)) if recorded else None,
                       "at_most_one": sum(1 for k in recorded if k <= 1),
                       "at_most_one_share": _share(sum(1 for k in recorded if k <= 1), len(recorded))},
            "deferral": {"cases": len(deferred), "share": _share(len(deferred), n), "due": len(due),
                         "supplied_on_time": len(supplied_on_time),
                         "on_time_supplement_rate": _share(len(supplied_on_time), len(due))},
            "ratings": {"count": len(levels), "by_level": {str(v): levels.count(v) for v in (5, 4, 3, 2, 1)},
                        "bad": sum(1 for v in levels if v <= 2)},
            "handoff": {"chat_cases": len(chat),
                        "handed_off": sum(1 for c in chat if c.conversation_id in handed_off),
                        "rate": _share(sum(1 for c in chat if c.conversation_id in handed_off), len(chat))},
        }

    by_town = {t: figures([c for c in cases if c.hukou_town_code == t]) for t in {c.hukou_town_code for c in cases}}
    by_item = {i: figures([c for c in cases if c.service_code == i]) for i in {c.service_code for c in cases}}
    cells = {(c.hukou_town_code, c.service_code) for c in cases}
    by_cell = {k: figures([c for c in cases if (c.hukou_town_code, c.service_code) == k]) for k in cells}
    return {"totals": figures(cases), "by_town": by_town, "by_item": by_item, "by_cell": by_cell}


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("town_code", "town_name", "service_code", "service_name")}


@pytest.fixture
def seeded(db):
    with db() as s:
        sd = seed(s, utcnow())
    return sd


def _now_of(body: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(body["generated_at"])


def test_county_figures_match_the_records(client, login, db, seeded):
    r = client.get("/api/v1/dashboard", headers=login("lead-1"))
    assert r.status_code == 200, r.text
    body = r.json()
    today = today_local()
    assert (body["from"], body["to"]) == ((today - dt.timedelta(days=89)).isoformat(), today.isoformat())
    with db() as s:
        want = _expected(s, today - dt.timedelta(days=89), today, None, _now_of(body))
    assert body["totals"] == want["totals"]
    # Known shape, independent of both computations.
    totals = body["totals"]
    assert totals["cases"] == 14  # 16 seeded: 200 days ago and 23:30 on the day before the range are out
    assert totals["completion"] == {"completed": 5, "on_time": 2, "on_time_rate": 0.4}
    assert totals["ratings"]["by_level"] == {"5": 1, "4": 1, "3": 0, "2": 0, "1": 1} and totals["ratings"]["bad"] == 1
    assert totals["deferral"] == {"cases": 4, "share": round(4 / 14, 4), "due": 3, "supplied_on_time": 1,
                                  "on_time_supplement_rate": round(1 / 3, 4)}
    # Trips: 1, 2 and 2 recorded for three cases; the other 11 are 未记录, left out of the share.
    assert totals["visits"] == {"total": 5, "recorded": 3, "unrecorded": 11, "mean": 1.67, "at_most_one": 1,
                                "at_most_one_share": 0.3333}
    assert body["visit_places"] == {"total": 5, "by_kind": [
        {"kind": "village_point", "kind_text": "村便民服务站", "visits": 0},
        {"kind": "town_centre", "kind_text": "镇便民服务中心", "visits": 2},
        {"kind": "county_window", "kind_text": "县代办点窗口", "visits": 1},
        {"kind": None, "kind_text": "地点未登记", "visits": 2}]}
    assert totals["handoff"] == {"chat_cases": 3, "handed_off": 2, "rate": round(2 / 3, 4)}
    assert body["conversations"] == {"conversations": 4, "handed_off": 2, "rate": 0.5}

    by_town = {t["town_code"]: t for t in body["by_town"]}
    assert len(by_town) == 11  # every town, even without cases
    assert by_town[TM]["town_name"] == "土门镇"
    for code, fig in want["by_town"].items():
        assert _strip(by_town[code]) == fig, code
    assert all(by_town[t]["cases"] == 0 for t in by_town if t not in want["by_town"])
    by_item = {i["service_code"]: i for i in body["by_item"]}
    assert set(by_item) == set(want["by_item"])
    for code, fig in want["by_item"].items():
        assert _strip(by_item[code]) == fig, code
    assert body["by_item"][0]["service_code"] == "MX-001"  # most cases first


def test_a_returned_case_is_not_overdue_until_resubmitted_and_late_again(client, login, db):
    now = utcnow()
    today = today_local(now)
    with db() as s:
        sd = Seeder(s, now)
        waiting = sd.case(NX, "MX-001", sd.at(80))
        decide(s, waiting, sd.reviewer(waiting), "return", "户口簿页不清楚", ["户口簿"], now=sd.at(79))
        late = sd.case(NX, "MX-001", sd.at(80, 13))  # in town review all along
        waiting_no, late_no, original = waiting.case_no, late.case_no, waiting.expected_completion_date
        assert original < today and late.expected_completion_date < today
        s.commit()  # services flush; the caller's unit of work commits

    def overdue() -> tuple[int, int]:
        r = client.get("/api/v1/dashboard", headers=login("lead-1"))
        assert r.status_code == 200, r.text
        body = r.json()
        with db() as s:
            assert body["totals"] == _expected(s, today - dt.timedelta(days=89), today, None, _now_of(body))["totals"]
        return body["totals"]["open"]["count"], body["totals"]["open"]["overdue"]

    # Past its promised date while it waits for the resident: open, not overdue — as on the lead's list.
    assert overdue() == (2, 1)
    with db() as s:
        assert [row["case_no"] for row in overdue_cases(s, Principal(role="duty_lead"))["items"]] == [late_no]
    # Resubmitted after a week: the promised date moves on by the pause, and that is past too.
    with db() as s:
        case = s.scalar(select(Case).where(Case.case_no == waiting_no))
        resubmit(s, case, Principal(role="service"), [], now=sd.at(72))
        assert original < case.expected_completion_date < today
        s.commit()
    assert overdue() == (2, 2)
    with db() as s:
        assert sorted(row["case_no"] for row in overdue_cases(s, Principal(role="duty_lead"))["items"]) == sorted(
            [waiting_no, late_no])


def test_date_range_and_town_filter(client, login, db, seeded):
    today = today_local()
    start = today - dt.timedelta(days=365)
    r = client.get("/api/v1/dashboard", params={"from": start.isoformat(), "to": today.isoformat(), "town": "赤不苏镇"},
                   headers=login("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["town"] == CB and [t["town_code"] for t in body["by_town"]] == [CB]
    assert body["conversations"] is None  # conversations have no town until queued
    with db() as s:
        want = _expected(s, start, today, {CB}, _now_of(body))
    assert body["totals"] == want["totals"] and body["totals"]["cases"] == 9
    # A range that ends before everything but the oldest case.
    old = (today - dt.timedelta(days=150)).isoformat()
    body = client.get("/api/v1/dashboard", params={"from": start.isoformat(), "to": old}, headers=login("admin")).json()
    assert body["totals"]["cases"] == 1 and body["totals"]["by_stage"]["town_review"] == 1
    assert body["totals"]["open"]["age_days"]["30+"] == 1 and body["totals"]["open"]["oldest_days"] in (199, 200)


@pytest.mark.parametrize("params,field", [({"from": "2026-13-01"}, "from"), ({"to": "明天"}, "to"),
                                          ({"from": "2026-03-02", "to": "2026-03-01"}, "from"),
                                          ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
                                          ({"town": "不存在镇"}, "town")])
def test_bad_filters_are_refused_in_chinese(client, login, params, field):
    r = client.get("/api/v1/dashboard", params=params, headers=login("lead-1"))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == field and any("\u4e00" <= ch <= "\u9fff" for ch in err["message"])


def test_town_staff_see_only_their_towns(client, login, db, seeded):
    today = today_local()
    body = client.get("/api/v1/dashboard", headers=login("reviewer-chibusu")).json()
    assert body["scope"] == "towns" and [t["town_code"] for t in body["by_town"]] == [CB]
    assert body["conversations"] is None
    with db() as s:
        want = _expected(s, today - dt.timedelta(days=89), today, {CB}, _now_of(body))
    assert body["totals"] == want["totals"]
    agent = client.get("/api/v1/dashboard", headers=login("agent-nanxin-1")).json()
    assert [t["town_code"] for t in agent["by_town"]] == [NX] and agent["totals"]["cases"] == 5
    for user in ("reviewer-chibusu", "agent-nanxin-1"):
        for path in ("/api/v1/dashboard", "/api/v1/dashboard.csv"):
            r = client.get(path, params={"town": TM}, headers=login(user))
            assert r.status_code == 403 and r.json()["error"]["code"] == "town_forbidden"
    csv_text = client.get("/api/v1/dashboard.csv", headers=login("reviewer-chibusu")).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {row["镇代码"] for row in rows[:-1]} == {CB} and rows[-1]["镇"] == "（合计）"


def test_only_signed_in_staff(client):
    assert client.get("/api/v1/dashboard").status_code == 401
    assert client.get("/api/v1/dashboard.csv").status_code == 401
    # The assistant's service token is not a staff member.
    assert client.get("/api/v1/dashboard", headers=SERVICE).status_code == 403


def _pct(part: int, whole: int) -> str:
    return f"{float(_half_up(Fraction(100 * part, whole), 1)):.1f}" if whole else ""


def _csv_columns(fig: dict) -> dict:
    """The export's columns for one town × item, as the county's staff read them."""
    stage_names = ["已收件", "户籍地镇审核中", "退回补正", "不予受理", "户籍地镇审核通过", "容缺受理，先行办理中",
                   "代办员已送部门办理", "已办结", "办理结果已告知", "已评价", "已回访", "已撤回", "已终止办理"]
    opened, done, visits, deferral, ratings, handoff = (fig["open"], fig["completion"], fig["visits"], fig["deferral"],
                                                         fig["ratings"], fig["handoff"])
    cols = {"收件数": fig["cases"], **dict(zip(stage_names, fig["by_stage"].values())),
            "未办结": opened["count"], "未办结已超期": opened["overdue"],
            **{f"未办结·已办{label}": opened["age_days"][key] for key, label in
               (("0-3", "3天内"), ("3-7", "3至7天"), ("7-15", "7至15天"), ("15-30", "15至30天"), ("30+", "30天以上"))},
            "最长已办天数": "" if opened["oldest_days"] is None else opened["oldest_days"],
            "已办结": done["completed"], "按时办结": done["on_time"], "按时办结率(%)": _pct(done["on_time"], done["completed"]),
            "跑动总次数": visits["total"], "有跑动记录件数": visits["recorded"], "跑动未记录件数": visits["unrecorded"],
            "平均跑动次数": "" if visits["mean"] is None else f"{visits['mean']:.2f}",
            "最多跑一次件数": visits["at_most_one"], "最多跑一次比例(%)": _pct(visits["at_most_one"], visits["recorded"]),
            "容缺件数": deferral["cases"], "容缺比例(%)": _pct(deferral["cases"], fig["cases"]), "容缺应补齐件数": deferral["due"],
            "按期补齐件数": deferral["supplied_on_time"], "按期补齐率(%)": _pct(deferral["supplied_on_time"], deferral["due"]),
            "评价数": ratings["count"], "非常满意": ratings["by_level"]["5"], "满意": ratings["by_level"]["4"],
            "基本满意": ratings["by_level"]["3"], "不满意": ratings["by_level"]["2"],
            "非常不满意": ratings["by_level"]["1"], "差评数": ratings["bad"],
            "聊天提交件数": handoff["chat_cases"], "转人工件数": handoff["handed_off"], "转人工率(%)": _pct(handoff["handed_off"], handoff["chat_cases"])}
    return {k: str(v) for k, v in cols.items()}


def test_csv_rows_per_town_and_item_without_personal_data(client, login, db, seeded):
    today = today_local()
    start = today - dt.timedelta(days=365)
    r = client.get("/api/v1/dashboard.csv", params={"from": start.isoformat()}, headers=login("lead-2"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese correctly
    text = r.content.decode("utf-8-sig")
    every_row = list(csv.DictReader(io.StringIO(text)))
    rows = [row for row in every_row if row["镇代码"] and row["事项编码"]]
    with db() as s:
        want = _expected(s, start, today, None, utcnow())  # ages: seconds after the export, far from any bucket edge
        agents = [st.display_name for st in s.scalars(select(Staff))]
    assert {(row["镇代码"], row["事项编码"]) for row in rows} == set(want["by_cell"])
    assert list(rows[0])[:5] == ["镇代码", "镇", "事项编码", "事项", "收件数"]
    # After the town × item rows, the totals: per town, per item, and the county last.
    totals = every_row[len(rows):]
    assert every_row[:len(rows)] == rows
    figures_of = lambda row: {k: v for k, v in row.items() if k not in ("镇代码", "镇", "事项编码", "事项")}  # noqa: E731
    by_town = {row["镇代码"]: row for row in totals if row["事项"] == "（全部事项）" and row["镇代码"]}
    assert {code: figures_of(row) for code, row in by_town.items()} == \
        {code: _csv_columns(fig) for code, fig in want["by_town"].items()}
    assert all(row["镇"] == TOWN_NAME[code] and row["事项编码"] == "" for code, row in by_town.items())
    by_item = {row["事项编码"]: row for row in totals if row["镇"] == "（全部镇）"}
    assert {code: figures_of(row) for code, row in by_item.items()} == \
        {code: _csv_columns(fig) for code, fig in want["by_item"].items()}
    assert totals[-1]["镇"] == "（合计）" and figures_of(totals[-1]) == _csv_columns(want["totals"])
    assert len(totals) == len(by_town) + len(by_item) + 1
    for row in rows:
        assert row["镇"] == TOWN_NAME[row["镇代码"]]
        assert {k: v for k, v in row.items() if k not in ("镇代码", "镇", "事项编码", "事项")} \
            == _csv_columns(want["by_cell"][(row["镇代码"], row["事项编码"])]), (row["镇代码"], row["事项编码"])
    cb001 = next(row for row in rows if (row["镇代码"], row["事项编码"]) == (CB, "MX-001"))
    assert cb001["事项"] == "最低生活保障申请（城乡低保）" and cb001["按时办结率(%)"] == "66.7"
    # No personal data: applicants' names, ID numbers, phones, case numbers; no staff names.
    for values in seeded.pii.values():
        for value in values:
            assert value not in text
    for name in agents:
        assert name not in text
    assert "EM-" not in text and "RQ-" not in text and "BS-" not in text


def test_rates_and_means_round_halves_up():
    """四舍五入, as county statistics are read: one case of sixteen is 6.3%, not Python's 6.2%."""
    from erma.dashboard.metrics import mean, percent_text, rate

    assert percent_text(1, 16) == "6.3" and rate(1, 16) == 0.0625
    assert rate(1, 32) == 0.0313  # 0.03125
    assert percent_text(1, 160) == "0.6"  # 0.625 %: below the half
    assert percent_text(1, 8) == "12.5" and percent_text(2, 3) == "66.7" and percent_text(0, 5) == "0.0"
    assert mean(1, 8) == 0.13 and mean(5, 2) == 2.5
    assert percent_text(1, 0) == "" and rate(1, 0) is None and mean(3, 0) is None


def test_rounding_in_whole_numbers_gives_what_decimal_half_up_gives():
    """The figures are rounded with integer arithmetic (fast over a CSV's thousands of rates); they are
    the plain definition's: Decimal division rounded ROUND_HALF_UP, shown as Decimal prints it."""
    from decimal import ROUND_HALF_UP, Decimal

    from erma.dashboard.metrics import mean, percent_text, rate

    def plain(part: int, whole: int, places: int) -> Decimal:
        return (Decimal(part) / Decimal(whole)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    pairs = [(p, w) for w in range(1, 401) for p in range(0, w + 1)]
    pairs += [(p, w) for w in (999_983, 1_000_000, 2_718_281) for p in (0, 1, 7, 5_000, w // 3, w // 2, w - 1, w)]
    pairs += [(visits, cases) for cases in (1, 3, 7, 16, 1_000_003) for visits in (cases, 2 * cases + 1, 5 * cases - 2)]
    for part, whole in pairs:
        assert percent_text(part, whole) == str(plain(100 * part, whole, 1)), (part, whole)
        assert rate(part, whole) == float(plain(part, whole, 4)), (part, whole)
        assert mean(part, whole) == float(plain(part, whole, 2)), (part, whole)
