"""容缺: the rules (with a refused case for each), the numbered form + pledge, the deadline on the
official calendar, and closing by supplement + reclaim."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from erma.catalog.service import get_item
from erma.deferral.rules import supplement_deadline
from erma.outbox.models import OutboxMessage
from erma.working_days import add_working_days

DEFERRABLE = "社会保障卡（或惠民惠农“一卡通”）账户信息复印件"  # MX-013 高龄津贴


def _approved(client, login, open_case, code="MX-013"):
    no = open_case(service_code=code)["case_no"]
    r = client.post(f"/api/v1/cases/{no}/review", headers=login("reviewer-chibusu"), json={"decision": "approve"})
    assert r.status_code == 200
    return no


def test_deferral_opens_with_numbered_form_and_pledge_and_deadline(client, login, open_case, db):
    no = _approved(client, login, open_case)
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login("agent-chibusu-1"))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["form_no"].startswith("RQ-") and d["pledge_no"].startswith("BS-")
    assert d["status"] == "open" and d["missing_materials"] == [DEFERRABLE]
    from erma.clock import today_local

    with db() as s:
        item = get_item(s, "MX-013")
        kinds = sorted(m.kind for m in s.scalars(select(OutboxMessage)))
    assert d["deadline"] == add_working_days(today_local(), min(item.deferral_max_working_days, item.promised_working_days)).isoformat()
    assert kinds == ["deferral_overdue", "deferral_reminder"]
    assert client.get(f"/api/v1/cases/{no}", headers=login("agent-chibusu-1")).json()["stage"] == "deferral_accepted"


def test_refused_for_an_item_not_on_the_list(client, login, open_case):
    no = _approved(client, login, open_case, code="MX-001")
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": ["户口簿"]}, headers=login("agent-chibusu-1"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "deferral_item_not_listed"


def test_refused_before_the_town_approves(client, login, open_case):
    no = open_case(service_code="MX-013")["case_no"]
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login("agent-chibusu-1"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "deferral_not_approved"


def test_refused_when_an_identity_or_core_material_is_missing(client, login, open_case):
    no = _approved(client, login, open_case)
    agent = login("agent-chibusu-1")
    for core in ("申请人居民身份证", "高龄津贴申请表"):
        r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE, core]}, headers=agent)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "deferral_material_not_deferrable"
        assert core in r.json()["error"]["message"]


def test_refused_for_nothing_or_unknown_missing(client, login, open_case):
    no = _approved(client, login, open_case)
    agent = login("agent-chibusu-1")
    assert client.post(f"/api/v1/cases/{no}/deferral", json={"missing": []}, headers=agent).status_code == 422
    assert client.post(f"/api/v1/cases/{no}/deferral", json={"missing": ["火星证"]}, headers=agent).status_code == 422


def test_refused_for_a_reviewer(client, login, open_case):
    no = _approved(client, login, open_case)
    r = client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=login("reviewer-chibusu"))
    assert r.status_code == 403


def test_deadline_across_national_day_with_makeup_saturday(db):
    """2026 国庆: Oct 1–7 off, Sat Oct 10 a working day (调休). 10 working days from Wed Sep 30
    are Oct 8, 9, 10(Sat), 12–16, 19, 20 → Tue Oct 20 (Oct 21 if the makeup day were ignored)."""
    with db() as s:
        item = get_item(s, "MX-013").model_copy(update={"deferral_max_working_days": 10})
    assert supplement_deadline(item, dt.date(2026, 9, 30)) == dt.date(2026, 10, 20)


def test_deadline_never_beyond_the_promised_time(db):
    with db() as s:
        item = get_item(s, "MX-013").model_copy(update={"deferral_max_working_days": 99})
    assert supplement_deadline(item, dt.date(2026, 3, 2)) == add_working_days(dt.date(2026, 3, 2), item.promised_working_days)


def test_supplement_then_reclaim_closes_it(client, login, open_case):
    no = _approved(client, login, open_case)
    agent = login("agent-chibusu-1")
    client.post(f"/api/v1/cases/{no}/deferral", json={"missing": [DEFERRABLE]}, headers=agent)
    r = client.post(f"/api/v1/cases/{no}/deferral/reclaim", json={}, headers=agent)
    assert r.status_code == 409 and r.json()["error"]["code"] == "deferral_not_supplied"
    assert client.post(f"/api/v1/cases/{no}/deferral/supplement", json={}, headers=agent).json()["status"] == "supplied"
    closed = client.post(f"/api/v1/cases/{no}/deferral/reclaim", json={}, headers=agent).json()
    assert closed["status"] == "closed" and closed["reclaimed_at"]
    case = client.get(f"/api/v1/cases/{no}", headers=agent).json()
    assert DEFERRABLE in case["materials_have"] and DEFERRABLE not in case["materials_missing"]
