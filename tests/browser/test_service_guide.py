"""The public service guide on a 360-px phone, signed out: the list, typing to filter it, an item's
page with its materials, the same words as the assistant's answer, and nothing wider than the screen."""
from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import PLATFORM, screenshot


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page is wider than the phone"


def test_list_to_item_page_on_a_phone(phone_page: Page):
    page = phone_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{PLATFORM}/services")
    expect(page.locator("h1")).to_have_text("茂县便民代办事项")
    expect(page.locator("li.item")).to_have_count(109)
    no_horizontal_scroll(page)
    screenshot(page, "guide-list-phone")

    # Typing filters the list on the page; the item residents call 高龄津贴 stays.
    page.fill("#q", "高龄")
    expect(page.locator("li.item:visible")).not_to_have_count(109)
    item = page.locator("li.item:visible a", has_text="高龄津贴").first
    expect(item).to_be_visible()
    item.click()

    expect(page).to_have_url(f"{PLATFORM}/services/MX-013")
    expect(page.locator("h1")).to_contain_text("高龄津贴")
    materials = page.locator("ul.materials li")
    expect(materials.first).to_be_visible()
    said = httpx.get(f"{PLATFORM}/api/v1/services/MX-013/answer", timeout=10).json()
    shown = [t.strip() for t in page.locator("#answer h2, #answer li, #answer p").all_inner_texts()]
    assert shown == said["text"].splitlines()
    expect(page.locator("#answer")).to_contain_text("〔可后补〕")
    no_horizontal_scroll(page)
    page.locator("details.points summary").click()  # the towns' intake points, opened
    no_horizontal_scroll(page)
    screenshot(page, "guide-item-phone")
    assert errors == []


def test_unknown_item_on_a_phone(phone_page: Page):
    response = phone_page.goto(f"{PLATFORM}/services/MX-999")
    assert response is not None and response.status == 404
    expect(phone_page.locator("h1")).to_have_text("没有找到这个事项")
    phone_page.click("text=看全部事项")
    expect(phone_page).to_have_url(f"{PLATFORM}/services")


def test_the_chats_guide_link_opens_the_items_page(phone_page: Page):
    """The assistant's requirement answer ends with the guide's address; the web chat makes that one
    address a link. The answer is injected into the page's transcript so no assistant is needed."""
    page = phone_page
    said = httpx.get(f"{PLATFORM}/api/v1/services/MX-013/answer", timeout=10).json()
    injected = {"done": False}

    def transcript(route):
        data = route.fetch().json()
        if not injected["done"]:
            injected["done"] = True
            data["entries"] = [*data.get("entries", []), {
                "seq": 90_000, "at": "2026-12-05T15:39:04+00:00", "author": "assistant", "kind": "message",
                "text": said["message"], "buttons": []}]
        route.fulfill(json=data)

    page.goto(f"{PLATFORM}/chat")  # a new conversation: its token is kept, and a reload reads the transcript
    page.wait_for_function("() => Object.keys(localStorage).length > 0")
    page.route("**/chat/api/transcript*", transcript)
    page.reload()
    link = page.locator(".msg.assistant a.guide-link")
    expect(link).to_have_text(said["guide_url"])
    expect(page.locator(".msg.assistant .bubble").last).to_contain_text(said["text"].splitlines()[1])
    with page.expect_popup() as opened:
        link.click()
    guide = opened.value
    expect(guide.locator("h1")).to_contain_text("高龄津贴")
    expect(guide.locator("ul.materials li").first).to_be_visible()
    guide.close()
