"""The county dashboard page /staff/dashboard: only duty leads and admins open it (signed-out staff go
to the sign-in page and come back), it loads its figures and its CSV export with the session cookie
alone, and the duty lead's page links to it (the navigation bar). The figures themselves: test_dashboard.py; the page in a
browser: tests/browser/test_dashboard_console.py."""
from __future__ import annotations

import re

import pytest

from tests.platform.conftest import SERVICE, case_body


def _sign_in(client, username: str):
    form = client.get("/staff/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/staff/login", data={"username": username, "password": "erma-demo-2026", "next": "",
                                             "csrf": csrf}, follow_redirects=False)


def test_signed_out_staff_sign_in_first_and_come_back(client):
    r = client.get("/staff/dashboard?from=2026-01-01&town=513223114", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/login?next=%2Fstaff%2Fdashboard%3Ffrom%3D2026-01-01%26town%3D513223114"


@pytest.mark.parametrize("username,name", [("lead-1", "李红梅"), ("admin", None)])
def test_duty_leads_and_admins_open_the_page(client, username, name):
    assert _sign_in(client, username).status_code == 303
    r = client.get("/staff/dashboard")
    assert r.status_code == 200
    assert "统计看板" in r.text and "/staff/static/dashboard.js" in r.text and "/staff/static/dashboard.css" in r.text
    assert 'id="dash-csv"' in r.text and "导出 CSV" in r.text
    if name:
        assert name in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "<script>" not in r.text  # no inline script: the CSP would block it
    for name in ("dashboard.js", "dashboard.css"):
        static = client.get(f"/staff/static/{name}")
        assert static.status_code == 200 and len(static.content) > 1000


@pytest.mark.parametrize("username", ["reviewer-chibusu", "agent-chibusu-1"])
def test_town_staff_get_the_no_access_page(client, username):
    assert _sign_in(client, username).status_code == 303
    r = client.get("/staff/dashboard")
    assert r.status_code == 403 and "没有权限" in r.text and "dashboard.js" not in r.text


def test_the_page_reads_its_figures_and_export_with_the_session_cookie(client):
    assert client.post("/api/v1/cases", json=case_body(), headers={**SERVICE, "Idempotency-Key": "dash-page-1"}
                       ).status_code in (200, 201)
    assert _sign_in(client, "lead-1").status_code == 303
    body = client.get("/api/v1/dashboard").json()  # no bearer token: the cookie the page's script sends
    assert body["scope"] == "county" and body["totals"]["cases"] == 1
    # Opened online, no trip recorded: 未记录, not a 100 % 最多跑一次.
    assert body["totals"]["visits"]["recorded"] == 0 and body["totals"]["visits"]["at_most_one_share"] is None
    r = client.get("/api/v1/dashboard.csv", params={"from": body["from"], "to": body["to"]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = r.content.decode("utf-8-sig").splitlines()
    # The header, the one town × item row, that town's and that item's totals, and the county's.
    assert len(rows) == 5 and rows[1].startswith("513223114,赤不苏镇,MX-001,")
    assert rows[2].startswith("513223114,赤不苏镇,,（全部事项）,1,") and rows[3].startswith(",（全部镇）,MX-001,")
    assert rows[4].startswith(",（合计）,,（全部事项）,1,")


def test_the_duty_leads_page_links_to_the_dashboard(client):
    assert _sign_in(client, "lead-1").status_code == 303
    assert 'href="/staff/dashboard"' in client.get("/staff/lead").text
