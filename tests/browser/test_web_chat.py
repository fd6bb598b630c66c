"""The residents' web chat in headless Chromium at 360 px, against a real stack: the platform with its
outbox worker, the action server and Rasa (`scripts/test.sh` starts them and sets ERMA_PLATFORM_URL).

Staff act through the platform's JSON API, as their consoles would. Screenshots:
test-artifacts/screenshots/web-chat-*.png.
"""
from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from playwright.sync_api import Page, expect

from erma.pii_refs.service import mask_clear
from tests.browser.conftest import PLATFORM, SERVICE, SHOTS, holder_username, required_materials, screenshot, staff_token
from tests.synthetic import fresh_id_number, masked_id

ID_NUMBER = fresh_id_number()  # synthetic, valid, used by no other test (one open case per ID and item)
PHONE = "13812345678"
AGENT = {"name": "余三郎", "credential_no": "茂代字2026-019"}  # agent-chibusu-1, the applicant's town
TOKEN_KEY = "erma.webchat.token"


# ------------------------------------------------------------------ helpers

def shot(page: Page, name: str) -> None:
    """A full-page screenshot with the sticky header and composer in their natural places (a
    full-page capture would otherwise draw them where the scrolled phone screen shows them)."""
    page.evaluate("() => document.querySelectorAll('.sticky-top, .bottom').forEach(e => e.style.position = 'static')")
    try:
        screenshot(page, name)
    finally:
        page.evaluate("() => document.querySelectorAll('.sticky-top, .bottom').forEach(e => e.style.position = '')")


def staff(username: str) -> dict:
    return {"Authorization": f"Bearer {staff_token(username)}"}


def api(method: str, path: str, headers: dict, body: dict | None = None) -> dict:
    r = httpx.request(method, f"{PLATFORM}{path}", json=body, headers=headers, timeout=30)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


def open_chat(page: Page, base: str = PLATFORM) -> str:
    page.goto(f"{base}/chat")
    page.wait_for_function(f"() => localStorage.getItem('{TOKEN_KEY}')")  # a function: the page's CSP forbids eval
    expect(page.locator("#human")).to_be_enabled()
    return page.evaluate(f"localStorage.getItem('{TOKEN_KEY}')")


def seqs(page: Page) -> list[int]:
    return [int(s) for s in page.eval_on_selector_all("#log [data-seq]", "els => els.map(e => e.dataset.seq)")]


def texts_after(page: Page, seq: int) -> str:
    return "\n".join(page.eval_on_selector_all(
        "#log [data-seq]", "(els, s) => els.filter(e => Number(e.dataset.seq) > s).map(e => e.innerText)", seq))


def _settled(page: Page) -> int:
    """Waits until nothing is being sent and returns the highest seq on the page."""
    expect(page.locator("#log .pending")).to_have_count(0)
    expect(page.locator("#typing")).to_be_hidden(timeout=60_000)
    return max(seqs(page) or [0])


def _answer_to(page: Page, before: int, text: str) -> str:
    """Waits for the resident's `text` to be stored (it gets a seq) and answered; returns what came after."""
    mine = wait_for_new(page, before, "#log .msg.resident[data-seq]")
    expect(mine).to_have_text(mask_clear(text))  # ID numbers and phones come back masked
    _settled(page)
    return texts_after(page, int(mine.get_attribute("data-seq")))


def say(page: Page, text: str) -> str:
    """Types and sends; returns what appeared after the resident's message once the answer is in."""
    before = max(seqs(page) or [0])
    page.fill("#text", text)
    page.click("#send")
    return _answer_to(page, before, text)


def tap(page: Page, title: str) -> str:
    """Taps the newest quick-reply button with this title; returns what appeared after it."""
    before = max(seqs(page) or [0])
    page.locator("#log .qr:not([disabled])", has_text=title).last.click()
    return _answer_to(page, before, title)


def wait_for_new(page: Page, after: int, selector: str, timeout: float = 30_000):
    """The first element matching `selector` with a seq above `after`, waiting for it to be pushed."""
    page.wait_for_function(
        "([sel, s]) => [...document.querySelectorAll(sel)].some(e => Number(e.dataset.seq) > s)",
        arg=[selector, after], timeout=timeout)
    return page.locator(selector).last


def conversation_for(token_headers: dict, marker: str) -> str:
    """The queued conversation in the agent's inbox whose transcript mentions `marker`."""
    for item in api("GET", "/api/v1/agent/inbox", token_headers)["items"]:
        transcript = api("GET", f"/api/v1/conversations/{item['id']}/transcript", token_headers)
        if any(marker in e["text"] for e in transcript["entries"]):
            return item["id"]
    raise AssertionError(f"no queued conversation mentions {marker}")


def conversation_id_of(token: str) -> str:
    """The id inside the page's token. Not a secret (the signature is what grants access), and read
    here only so staff can act on the conversation through their API."""
    _, data = URLSafeTimedSerializer("unused").loads_unsafe(token)
    return data["c"]


def assert_no_gaps_or_doubles(page: Page, token: str) -> None:
    """The page shows exactly what the platform lets the resident see, each entry once, in order."""
    shown = seqs(page)
    assert shown == sorted(set(shown)), f"doubled or out of order: {shown}"
    expected, after = [], 0
    while True:
        chunk = api("GET", f"/chat/api/transcript?after_seq={after}", {"Authorization": f"Bearer {token}"})
        expected += [e["seq"] for e in chunk["entries"]]
        after = chunk["next_after_seq"]
        if not chunk["has_more"]:
            break
    assert shown == expected, f"page {shown} != transcript {expected}"


class CuttableProxy:
    """A TCP relay in front of the platform whose connections the test can cut: a real dropped
    network for the browser (open streams break, new connections are refused) until restored."""

    def __init__(self, target: str) -> None:
        url = urlsplit(target)
        self.target = (url.hostname, url.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.down = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut(self) -> None:
        self.down.set()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy():
    relay = CuttableProxy(PLATFORM)
    yield relay
    relay.close()


# ------------------------------------------------------------------ the resident's whole journey

def test_resident_asks_applies_gets_a_push_talks_to_an_agent_and_back_to_the_assistant(phone_page: Page):
    page = phone_page
    open_token = open_chat(page)
    # A phone screen: nothing wider than 360 px, large text, thumb-sized buttons, Chinese throughout.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 17
    for selector in ("#human", "#send", "#text", "#starters .chip"):
        box = page.locator(selector).first.bounding_box()
        assert box["height"] >= 44, selector
    expect(page.locator("#human")).to_have_text("转人工")
    shot(page, "web-chat-01-welcome")

    # Requirements, in one answer, with quick replies.
    # "正在输入…" shows while the assistant thinks (recorded by an observer: the answer may be quick).
    page.evaluate("""() => { window.typingSeen = false;
        new MutationObserver(() => { const t = document.getElementById('typing');
            if (!t.hidden && t.innerText.includes('正在输入')) window.typingSeen = true; })
        .observe(document.getElementById('typing'), {attributes: true}); }""")
    page.fill("#text", "办低保要带什么")
    page.click("#send")
    _settled(page)
    assert page.evaluate("window.typingSeen"), "正在输入… was shown"
    answer = texts_after(page, 0)
    for material in ("低保申请书", "户口簿", "家庭经济状况核对授权书"):
        assert material in answer
    bubble_px = "parseFloat(getComputedStyle(document.querySelector('.msg.assistant .bubble')).fontSize)"
    assert page.evaluate(bubble_px) >= 17
    expect(page.locator(".qr", has_text="我要申请办理")).to_be_visible()
    shot(page, "web-chat-02-requirements")

    # Applying through the assistant's form: the button's title shows, its payload reaches the assistant.
    assert "申请人叫什么名字" in tap(page, "我要申请办理")
    say(page, "杨子妹")
    say(page, ID_NUMBER)
    say(page, PHONE)
    say(page, "赤不苏镇雅都村")
    say(page, "我在成都")
    summary = say(page, "身份证和户口本都有")
    assert masked_id(ID_NUMBER) in summary and "138****5678" in summary
    assert ID_NUMBER not in summary and PHONE not in summary
    shot(page, "web-chat-03-confirm")
    done = tap(page, "对，提交")
    case_no = re.search(r"EM-\d{8}-\d{4}", done).group(0)
    assert re.search(r"代办员：\S+（证号茂代字\d{4}-\d{3}）", done), "the case's agent, with credential"
    # Buttons answered before are spent.
    expect(page.locator(".qr", has_text="对，提交").last).to_be_disabled()
    shot(page, "web-chat-04-submitted")

    # The household town approves: the stage change is pushed to the page without a reload.
    before = max(seqs(page))
    # The chat named only the ID card and the household register: the agent collects the rest first
    # (approval needs every required material).
    agent = staff(holder_username(api("GET", f"/api/v1/cases/{case_no}", staff("admin"))))
    rest = [{"name": n, "form": "original"} for n in required_materials("MX-001", but=("申请人居民身份证", "户口簿"))]
    api("POST", f"/api/v1/cases/{case_no}/materials", agent, {"materials": rest, "occasion": "collection"})
    api("POST", f"/api/v1/cases/{case_no}/review", staff("reviewer-chibusu"), {"decision": "approve"})
    try:
        push = wait_for_new(page, before, "#log .card.push", timeout=45_000)
    except Exception as exc:  # noqa: BLE001 - say plainly which part of the platform is missing
        shot(page, "web-chat-05-push-missing")
        raise AssertionError("no push card appeared after the town approved the case: the outbox worker "
                             "writes stage-change pushes into the conversation (system entry, meta.kind "
                             "'push')") from exc
    expect(push).to_contain_text(case_no)
    shot(page, "web-chat-05-push")

    # A person, please: the always-visible button.
    page.click("#human")
    expect(page.locator("#banner")).to_contain_text("正在为您转接人工", timeout=30_000)
    expect(page.locator("#human")).to_be_disabled()
    _settled(page)
    shot(page, "web-chat-06-queued")

    agent = staff("agent-chibusu-1")
    cid = conversation_for(agent, case_no)
    api("POST", f"/api/v1/conversations/{cid}/take", agent)
    banner = page.locator("#banner")
    expect(banner).to_contain_text(f"代办员 {AGENT['name']}，证号 {AGENT['credential_no']}")
    expect(banner).to_contain_text("正在为您服务")
    shot(page, "web-chat-07-agent-joined")
    page.screenshot(path=str(SHOTS / "web-chat-07-agent-joined-screen.png"))  # what the phone's screen shows

    before = max(seqs(page))
    api("POST", f"/api/v1/conversations/{cid}/reply", agent,
        {"text": "您好，我是代办员余三郎。您的低保申请镇上已经审核通过了，剩下的材料我明天打电话跟您约时间。",
         "client_msg_id": uuid.uuid4().hex})
    reply = wait_for_new(page, before, "#log .msg.agent")
    expect(reply).to_contain_text("剩下的材料我明天打电话")
    expect(reply.locator(".who")).to_have_text(f"代办员 {AGENT['name']}，证号 {AGENT['credential_no']}")
    # The resident answers the agent; the assistant stays quiet.
    assert "智能助手" not in say(page, "好的，谢谢您")
    shot(page, "web-chat-08-agent-reply")

    api("POST", f"/api/v1/conversations/{cid}/hand-back", agent)
    expect(page.locator("#banner")).to_contain_text("智能助手继续为您服务")
    expect(page.locator("#human")).to_be_enabled()
    expect(page.locator("#log .event.to-bot").last).to_contain_text("智能助手继续为您服务")
    again = say(page, "高龄补贴要带些啥子")
    assert "高龄津贴申请表" in again, "the assistant answers again"
    shot(page, "web-chat-09-assistant-again")
    assert_no_gaps_or_doubles(page, open_token)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


# ------------------------------------------------------------------ reloads and dropped connections

def test_a_reload_keeps_the_conversation(phone_page: Page):
    page = phone_page
    token = open_chat(page)
    say(page, "办低保要带什么")
    shown = seqs(page)
    texts = page.eval_on_selector_all("#log [data-seq]", "els => els.map(e => e.innerText)")
    page.reload()
    expect(page.locator("#log [data-seq]")).to_have_count(len(shown))
    assert page.evaluate(f"localStorage.getItem('{TOKEN_KEY}')") == token
    assert seqs(page) == shown
    assert page.eval_on_selector_all("#log [data-seq]", "els => els.map(e => e.innerText)") == texts
    answer = say(page, "高龄补贴要带些啥子")
    assert "高龄津贴申请表" in answer
    assert seqs(page) == sorted(set(seqs(page))) and min(seqs(page)[len(shown):]) > max(shown)
    shot(page, "web-chat-10-after-reload")


def test_a_dropped_connection_misses_nothing_and_doubles_nothing(phone_page: Page, proxy: CuttableProxy):
    page = phone_page
    token = open_chat(page, proxy.url)
    say(page, "办低保要带什么")

    # The network goes away: the open event stream breaks, the page says so.
    proxy.cut()
    expect(page.locator("#conn")).to_be_visible(timeout=15_000)
    # Meanwhile the platform moves on: the resident is queued, an agent takes over and writes.
    cid = conversation_id_of(token)
    api("POST", "/api/v1/handoffs", SERVICE, {"conversation_id": cid, "channel": "web_chat"})
    agent = staff("agent-chibusu-1")
    api("POST", f"/api/v1/conversations/{cid}/take", agent)
    for n in (1, 2):
        api("POST", f"/api/v1/conversations/{cid}/reply", agent,
            {"text": f"断网期间代办员的第{n}条消息", "client_msg_id": uuid.uuid4().hex})
    # The resident types while offline: the send fails, the words stay in the box.
    page.fill("#text", "我这边网络不好")
    page.click("#send")
    expect(page.locator("#error")).to_be_visible(timeout=60_000)
    expect(page.locator("#error")).to_contain_text("没有发出去")
    expect(page.locator("#text")).to_have_value("我这边网络不好")
    shot(page, "web-chat-11-offline")

    # Back online: the stream resumes after the last seq it had and the retry is stored once.
    proxy.restore()
    expect(page.locator("#conn")).to_be_hidden(timeout=30_000)
    expect(page.locator("#log .msg.agent")).to_have_count(2, timeout=30_000)
    expect(page.locator("#banner")).to_contain_text(f"代办员 {AGENT['name']}，证号 {AGENT['credential_no']}")
    page.click("#retry")
    expect(page.locator("#log .msg.resident[data-seq]", has_text="我这边网络不好")).to_have_count(1)
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#text")).to_have_value("")
    shot(page, "web-chat-12-back-online")
    entries = api("GET", f"/api/v1/conversations/{cid}/transcript", SERVICE)["entries"]
    assert [e["text"] for e in entries].count("我这边网络不好") == 1
    assert_no_gaps_or_doubles(page, token)
    # A second drop, while nothing new happens, doubles nothing either.
    proxy.cut()
    expect(page.locator("#conn")).to_be_visible(timeout=15_000)
    proxy.restore()
    expect(page.locator("#conn")).to_be_hidden(timeout=30_000)
    time.sleep(1.5)
    assert_no_gaps_or_doubles(page, token)
    api("POST", f"/api/v1/conversations/{cid}/close", agent)

