"""The admin page's 节假日调整 in headless Chromium at 360 px: an admin signs in, sees the warning for a year
whose official holiday arrangement is not entered, opens the calendar tab from it, adds a holiday in
2031 (a day no other test uses), sees it listed under its year, and deletes it again. The override is
deleted through the API at the end in any case (the platform's database is shared with others)."""
from __future__ import annotations

import datetime as dt
import random

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, PLATFORM, new_page, screenshot, staff_token


def _admin(method: str, path: str, token: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{PLATFORM}/api/v1/admin/calendar{path}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=30, **kwargs)


@pytest.fixture
def page(browser):
    page = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    page.context.close()
    assert errors == []


@pytest.fixture
def holiday():
    """A weekday in 2031, deleted at the end whatever happened."""
    token = staff_token("admin")
    day = dt.date(2031, random.randint(2, 11), random.randint(1, 28))
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    assert _admin("GET", "", token).status_code == 200
    yield day
    _admin("DELETE", f"/overrides/{day.isoformat()}", token)  # 404 when the test deleted it itself


def test_an_admin_sees_the_uncovered_year_and_adds_a_holiday(page: Page, holiday: dt.date):
    shot = lambda step: screenshot(page, f"admin-calendar-phone-{step}")  # noqa: E731
    token = staff_token("admin")
    warnings = _admin("GET", "", token).json()["warnings"]
    assert warnings, "this year or next has no official arrangement in the pinned holiday library"
    year = warnings[0]["year"]

    page.goto(f"{PLATFORM}/staff/admin")
    page.fill("#username", "admin")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/admin")

    # The warning stands above whatever tab is open, with a way to enter that year's holidays.
    warning = page.locator(f'.calendar-warning[data-year="{year}"]')
    expect(warning).to_contain_text(f"{year} 年的法定节假日安排尚未录入，涉及该年的承诺办结日期为暂定")
    shot("01-warning")
    warning.get_by_role("button", name=f"录入 {year} 年节假日").click()
    expect(page.locator("#sec-calendar")).to_be_visible()
    expect(page.locator(f'.cal-year[data-year="{year}"] .cal-state')).to_have_text("尚未录入，涉及该年的日期为暂定")

    # A holiday without a date is refused next to the field; then added and listed under its year.
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.locator('#override-form [data-error-for="day"]')).to_have_text("请选择日期")
    page.fill("#o-day", holiday.isoformat())
    page.select_option("#o-kind", "holiday")
    page.fill("#o-note", "浏览器测试假日")
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.locator("#admin-notice")).to_contain_text(f"已添加：{holiday.isoformat()} 放假")
    row = page.locator(f'.cal-year[data-year="2031"] .cal-day[data-day="{holiday.isoformat()}"]')
    expect(row).to_contain_text("放假")
    expect(row).to_contain_text("浏览器测试假日")
    weekday = "一二三四五六日"[holiday.weekday()]
    expect(row.locator(".cal-date")).to_have_text(f"{holiday.isoformat()}（周{weekday}）")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("02-added")

    # Listed by the platform too, then deleted from the page.
    listed = {i["day"] for y in _admin("GET", "", token).json()["years"] for i in y["items"]}
    assert holiday.isoformat() in listed
    row.get_by_role("button", name="删除").click()
    expect(page.locator("#admin-notice")).to_contain_text(f"已删除 {holiday.isoformat()} 的放假设置")
    expect(page.locator(f'.cal-day[data-day="{holiday.isoformat()}"]')).to_have_count(0)
    assert holiday.isoformat() not in str(_admin("GET", "", token).json()["years"])
