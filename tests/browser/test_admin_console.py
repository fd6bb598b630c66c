"""The county admin's page in headless Chromium, at 360 px and at desktop width: an admin signs in,
edits an item's material list with a bad value first (the platform's Chinese message next to the
field, everything typed kept) and then a good one, adds an agent (a bad phone number first), adds
a town alias that residents' words then resolve to, and sees the audit trail. Everything the test
changed is put back through the API at the end (the platform's database is shared with others)."""
from __future__ import annotations

import random
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, PLATFORM, SERVICE, screenshot, staff_token

ITEM = "MX-094"  # 婚姻登记记录证明: no other test uses it
WEIMEN = "513223111"
SHABA = "513223110"


def api(method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else dict(SERVICE)
    r = httpx.request(method, f"{PLATFORM}{path}", headers=headers, timeout=30, **kwargs)
    assert r.status_code < 400, r.text
    return r


@pytest.fixture
def admin_page(console_page):
    console_page.on("dialog", lambda dialog: dialog.accept())
    return console_page


@pytest.fixture
def put_back():
    """Whatever the test changed goes back as it was, even when the test fails half-way."""
    token = staff_token("admin")
    original = api("GET", f"/api/v1/admin/services/{ITEM}", token).json()["item"]
    made: dict[str, str] = {}
    yield made
    api("PUT", f"/api/v1/admin/services/{ITEM}", token, json={"item": original})
    if "username" in made:  # out of new-case assignment for the tests that follow
        httpx.post(f"{PLATFORM}/api/v1/admin/staff/{made['username']}/deactivate",
                   headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if "alias" in made:
        httpx.delete(f"{PLATFORM}/api/v1/admin/town-aliases/{made['alias']}",
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_an_admin_edits_an_item_adds_an_agent_and_a_town_alias(admin_page: Page, put_back: dict):
    page, size = admin_page, admin_page.viewport_name
    shot = lambda step: screenshot(page, f"admin-{size}-{step}")  # noqa: E731
    marker = uuid.uuid4().hex[:6]

    # Signed out: to the sign-in page and back.
    page.goto(f"{PLATFORM}/staff/admin")
    expect(page).to_have_url(re.compile(r"/staff/login\?next=%2Fstaff%2Fadmin"))
    page.fill("#username", "admin")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{PLATFORM}/staff/admin")
    expect(page.locator(".topbar")).to_contain_text("陈敏")

    # ---------------------------------------------------------------- the item's material list
    page.select_option("#item-code", ITEM)
    page.get_by_role("button", name="打开").click()
    expect(page.locator("#item-title")).to_have_text(f"{ITEM} 婚姻登记记录证明（婚姻登记档案查询）")
    expect(page.locator("#materials > li")).to_have_count(3)
    shot("01-item-opened")

    # A new material, and a count of 0 for the ID card: refused, next to that very field.
    new_material = f"户口簿（{marker}）"
    page.get_by_role("button", name="＋ 添加一项材料").click()
    page.fill('[data-field="materials[3].name"]', new_material)
    page.select_option('[data-field="materials[3].form"]', "原件及复印件")
    count = page.locator('[data-field="materials[1].count"]')
    count.fill("0")
    page.get_by_role("button", name="保存修改").click()
    error = page.locator('[data-error-for="materials[1].count"]')
    expect(error).to_have_text("第2项材料的份数：必须是正整数")
    expect(count).to_be_focused()
    expect(count).to_have_value("0")
    expect(page.locator('[data-field="materials[3].name"]')).to_have_value(new_material)
    expect(page.locator('[data-field="materials[3].form"]')).to_have_value("原件及复印件")
    shot("02-item-bad-count")

    count.fill("2")
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator("#admin-notice")).to_have_text(
        f"已保存。修改事项 {ITEM} 婚姻登记记录证明（婚姻登记档案查询）：材料清单")
    expect(error).to_have_text("")
    shot("03-item-saved")
    public = api("GET", f"/api/v1/services/{ITEM}").json()["materials"]
    assert [(m["name"], m["count"]) for m in public][1:] == [("申请人居民身份证", 2), ("委托代办书（代办时）", 1),
                                                            (new_material, 1)]

    # ---------------------------------------------------------------- a new agent
    page.get_by_role("tab", name="人员").click()
    expect(page.locator('.staff-card[data-username="agent-shaba-1"]')).to_be_visible()
    page.locator("#staff-add summary").click()
    username, credential = f"agent-shaba-t{marker}", f"茂代字T-{marker}"
    put_back["username"] = username
    page.fill("#s-username", username)
    page.fill("#s-display_name", "泽让")
    page.select_option("#s-role", "agent")
    page.locator("#staff-form .town-checks label", has_text="沙坝镇").locator("input").check()
    page.fill("#s-credential_no", credential)
    page.fill("#s-mobile", "12345")
    page.fill("#s-password", "Shaba2026ok")
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.locator('#staff-form [data-error-for="mobile"]')).to_have_text("手机号码格式不对，请输入11位手机号码")
    expect(page.locator("#s-mobile")).to_be_focused()
    expect(page.locator("#s-username")).to_have_value(username)
    expect(page.locator("#s-credential_no")).to_have_value(credential)
    expect(page.locator("#staff-form .town-checks label", has_text="沙坝镇").locator("input")).to_be_checked()
    shot("04-agent-bad-phone")

    page.fill("#s-mobile", "13908370177")
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.locator("#admin-notice")).to_have_text(f"已添加代办员 泽让（{username}），请把用户名和初始密码告诉本人")
    card = page.locator(f'.staff-card[data-username="{username}"]')
    expect(card).to_contain_text("沙坝镇")
    expect(card).to_contain_text(credential)
    expect(card).to_contain_text("139****0177")
    card.scroll_into_view_if_needed()
    shot("05-agent-added")
    signed = httpx.post(f"{PLATFORM}/api/v1/auth/login", json={"username": username, "password": "Shaba2026ok"}, timeout=10)
    assert signed.status_code == 200 and signed.json()["towns"] == [SHABA]

    # ---------------------------------------------------------------- a town alias
    alias = "".join(random.sample("甲乙丙丁戊己庚辛壬癸", 3)) + "乡"
    put_back["alias"] = alias
    page.get_by_role("tab", name="镇和老地名").click()
    page.fill("#a-alias", alias)
    page.get_by_role("button", name="添加老地名").click()
    expect(page.locator('#alias-form [data-error-for="town_code"]')).to_have_text("请选择这个老地名现在属于哪个镇")
    expect(page.locator("#a-alias")).to_have_value(alias)
    shot("06-alias-no-town")
    page.select_option("#a-town_code", WEIMEN)
    page.get_by_role("button", name="添加老地名").click()
    expect(page.locator("#admin-notice")).to_have_text(f"已添加：“{alias}”现在属于渭门镇")
    chip = page.locator(f'.town[data-town="{WEIMEN}"] .alias[data-alias="{alias}"]')
    expect(chip).to_contain_text("待核实")
    chip.scroll_into_view_if_needed()
    shot("07-alias-added")
    resolved = api("POST", "/api/v1/validation", json={"field": "hukou_town", "value": f"{alias}那边的"}).json()
    assert resolved["town_code"] == WEIMEN

    # ---------------------------------------------------------------- who changed what
    page.get_by_role("tab", name="修改记录").click()
    audit = page.locator("#audit-list")
    expect(audit.locator(".audit").nth(0)).to_contain_text(f"新增渭门镇的别名“{alias}”（待核实）")
    expect(audit.locator(".audit").nth(1)).to_contain_text(f"新增代办员 泽让（{username}）")
    expect(audit.locator(".audit").nth(2)).to_contain_text(f"修改事项 {ITEM}")
    expect(audit.locator(".audit").nth(0)).to_contain_text("admin")
    shot("08-audit")
