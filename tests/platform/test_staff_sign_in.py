"""Staff sign-in for web pages: a signed HttpOnly session cookie plus a CSRF token, next to the bearer
tokens the actions and channels keep using; towns and roles limit what a signed-in agent sees."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from erma.conversations import service as gateway
from tests.platform.conftest import DEMO_PASSWORD, SERVICE, case_body

CHIBUSU, NANXIN = "513223114", "513223101"


def sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD, next_path: str = ""):
    form = client.get("/staff/login", params={"next": next_path} if next_path else None)
    assert form.status_code == 200, form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/staff/login", data={"username": username, "password": password, "next": next_path,
                                             "csrf": csrf}, follow_redirects=False)


def signed_in_client(client: TestClient, username: str) -> TestClient:
    """A second browser on the same application."""
    other = TestClient(client.app)
    assert sign_in(other, username).status_code == 303
    return other


def csrf(client: TestClient) -> dict:
    return {"X-CSRF-Token": client.cookies["erma_csrf"]}


def queued_conversation(client: TestClient, town: str = CHIBUSU, text: str = "我想问下低保咋个办") -> str:
    conversation = client.post("/api/v1/conversations", json={"channel": "web_chat"}, headers=SERVICE).json()
    r = client.post("/api/v1/handoffs", headers=SERVICE, json={"conversation_id": conversation["id"],
                                                               "channel": "web_chat", "reason": "requested",
                                                               "town_code": town})
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/conversations/{conversation['id']}/messages", headers=SERVICE,
                    json={"text": text, "client_msg_id": "m1"})
    assert r.json()["forwarded_to_assistant"] is False
    return conversation["id"]


def set_cookie_headers(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_sign_in_sets_an_http_only_session_cookie_and_a_readable_csrf_cookie(client):
    r = sign_in(client, "agent-chibusu-1")
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/inbox"
    cookies = set_cookie_headers(r)
    session = cookies["erma_session"].lower()
    assert "httponly" in session and "samesite=lax" in session and "path=/" in session
    assert "max-age=43200" in session  # the bearer token's 12 hours
    assert "httponly" not in cookies["erma_csrf"].lower()

    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "agent-chibusu-1" and me.json()["towns"] == [CHIBUSU]

    page = client.get("/staff/inbox")
    assert page.status_code == 200
    assert "余三郎" in page.text and "茂代字2026-019" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_cookie_post_needs_the_csrf_header_and_a_bearer_post_does_not(client, login):
    conversation_id = queued_conversation(client)
    sign_in(client, "agent-chibusu-1")

    missing = client.post(f"/api/v1/conversations/{conversation_id}/take")
    assert missing.status_code == 403
    assert missing.json()["error"]["code"] == "csrf_failed"
    assert "刷新页面" in missing.json()["error"]["message"]
    wrong = client.post(f"/api/v1/conversations/{conversation_id}/take", headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    # A form another site posts with the agent's cookie changes nothing.
    forged = client.post(f"/api/v1/conversations/{conversation_id}/reply", data={"text": "伪造"})
    assert forged.status_code == 403
    state = client.get(f"/api/v1/conversations/{conversation_id}", headers=SERVICE).json()
    assert state["state"] == "queued"

    taken = client.post(f"/api/v1/conversations/{conversation_id}/take", headers=csrf(client))
    assert taken.status_code == 200 and taken.json()["agent"]["credential_no"] == "茂代字2026-019"
    reply = client.post(f"/api/v1/conversations/{conversation_id}/reply", headers=csrf(client),
                        json={"text": "您好，我是代办员余三郎", "client_msg_id": "r1"})
    assert reply.status_code == 200 and reply.json()["author"] == "agent"

    # Bearer tokens (actions, channels, API clients) need no CSRF token.
    other_id = queued_conversation(client)
    api = TestClient(client.app)
    by_bearer = api.post(f"/api/v1/conversations/{other_id}/take", headers=login("agent-chibusu-2"))
    assert by_bearer.status_code == 200 and by_bearer.json()["state"] == "agent"


def test_the_service_token_is_not_accepted_as_a_cookie(client):
    conversation_id = queued_conversation(client)
    client.cookies.set("erma_session", "dev-service-token")
    r = client.get(f"/api/v1/conversations/{conversation_id}/transcript")
    assert r.status_code == 401


def test_a_wrong_password_says_so_in_chinese_and_keeps_the_username(client):
    r = sign_in(client, "agent-chibusu-1", password="not-the-password")
    assert r.status_code == 401
    assert "用户名或密码不对" in r.text
    assert 'value="agent-chibusu-1"' in r.text
    assert "erma_session" not in set_cookie_headers(r)
    assert client.get("/api/v1/auth/me").status_code == 401

    # What was typed comes back escaped, never as markup.
    r = sign_in(client, '"><script>alert(1)</script>', password="x")
    assert "<script>alert(1)" not in r.text
    assert "&quot;&gt;&lt;script&gt;" in r.text


def test_the_sign_in_form_must_come_from_this_site(client):
    r = client.post("/staff/login", data={"username": "agent-chibusu-1", "password": DEMO_PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 403
    assert "erma_session" not in set_cookie_headers(r)
    assert 'value="agent-chibusu-1"' in r.text


def test_an_agent_sees_and_takes_only_queued_conversations_of_their_towns(client):
    chibusu_id = queued_conversation(client, CHIBUSU)
    nanxin_agent = signed_in_client(client, "agent-nanxin-1")

    inbox = nanxin_agent.get("/api/v1/agent/inbox").json()["items"]
    assert chibusu_id not in [c["id"] for c in inbox]
    assert nanxin_agent.get(f"/api/v1/conversations/{chibusu_id}/transcript").status_code == 404
    assert nanxin_agent.get(f"/api/v1/conversations/{chibusu_id}/cases").status_code == 404
    take = nanxin_agent.post(f"/api/v1/conversations/{chibusu_id}/take", headers=csrf(nanxin_agent))
    assert take.status_code == 404
    assert take.json()["error"]["message"] == "没有找到这个会话"

    chibusu_agent = signed_in_client(client, "agent-chibusu-1")
    items = chibusu_agent.get("/api/v1/agent/inbox").json()["items"]
    mine = next(c for c in items if c["id"] == chibusu_id)
    assert mine["town"]["name"] == "赤不苏镇" and mine["wait_seconds"] >= 0
    assert mine["queue_reason_text"] == "居民要求转人工"
    transcript = chibusu_agent.get(f"/api/v1/conversations/{chibusu_id}/transcript").json()
    assert "我想问下低保咋个办" in [e["text"] for e in transcript["entries"]]


def test_two_agents_taking_the_same_conversation_the_second_is_told_in_chinese(client):
    conversation_id = queued_conversation(client)
    first = signed_in_client(client, "agent-chibusu-1")
    second = signed_in_client(client, "agent-chibusu-2")
    assert first.post(f"/api/v1/conversations/{conversation_id}/take", headers=csrf(first)).status_code == 200
    late = second.post(f"/api/v1/conversations/{conversation_id}/take", headers=csrf(second))
    assert late.status_code == 409
    assert late.json()["error"]["message"] == "这个会话已经由其他代办员接入了"

    assert [c["id"] for c in first.get("/api/v1/agent/conversations?mine=1").json()["items"]] == [conversation_id]
    assert second.get("/api/v1/agent/conversations?mine=1").json()["items"] == []


def test_a_town_reviewer_cannot_open_the_agent_inbox(client):
    r = sign_in(client, "reviewer-chibusu")
    assert r.status_code == 303 and r.headers["location"] == "/staff/review"
    page = client.get("/staff/inbox", follow_redirects=False)
    assert page.status_code == 403 and "没有权限" in page.text
    assert client.get("/api/v1/agent/inbox").status_code == 403


def test_sign_out_ends_the_browser_session(client):
    sign_in(client, "agent-chibusu-1")
    refused = client.post("/staff/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200

    out = client.post("/staff/logout", data={"csrf": client.cookies["erma_csrf"]}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/staff/login?out=1"
    assert "erma_session" not in client.cookies
    assert client.get("/api/v1/auth/me").status_code == 401
    page = client.get("/staff/inbox", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/staff/login?next=")
    assert "您已退出登录" in client.get("/staff/login?out=1").text


def test_a_page_sends_to_sign_in_and_comes_back_afterwards(client):
    r = client.get("/staff/inbox?c=abc123", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/login?next=" + quote("/staff/inbox?c=abc123", safe="")
    form = client.get(r.headers["location"])
    assert 'name="next" value="/staff/inbox?c=abc123"' in form.text

    back = sign_in(client, "agent-chibusu-1", next_path="/staff/inbox?c=abc123")
    assert back.status_code == 303 and back.headers["location"] == "/staff/inbox?c=abc123"


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "evil.example/staff", "/\t/evil.example",
                                    "http:/staff/inbox"])
def test_after_sign_in_only_paths_on_this_site_are_followed(client, target):
    r = sign_in(client, "agent-chibusu-1", next_path=target)
    assert r.status_code == 303
    assert r.headers["location"] == "/staff/inbox"


def test_an_agent_opens_a_case_for_the_resident_and_acts_on_it(client):
    conversation_id = queued_conversation(client)
    agent = signed_in_client(client, "agent-chibusu-1")
    agent.post(f"/api/v1/conversations/{conversation_id}/take", headers=csrf(agent))

    bad = agent.post("/api/v1/cases", headers={**csrf(agent), "Idempotency-Key": "console-1"},
                     json=case_body(conversation_id=conversation_id, id_number="513223198001010012"))
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "id_number"
    assert re.search(r"[\u4e00-\u9fff]", bad.json()["error"]["message"])

    created = agent.post("/api/v1/cases", headers={**csrf(agent), "Idempotency-Key": "console-1"},
                         json=case_body(conversation_id=conversation_id, channel="web_chat"))
    assert created.status_code == 201, created.text
    case_no = created.json()["case_no"]

    cases = agent.get(f"/api/v1/conversations/{conversation_id}/cases").json()["items"]
    assert [c["case_no"] for c in cases] == [case_no]
    assert "513223198001010011" not in str(cases) and "13812345678" not in str(cases)
    assert {"to": "withdrawn", "text": "已撤回"} in cases[0]["actions"]
    assert all(a["to"] not in ("approved", "returned_for_correction") for a in cases[0]["actions"])  # the reviewer's
    assert cases[0]["can_record_visit"] is True

    visit = agent.post(f"/api/v1/cases/{case_no}/visits", headers=csrf(agent), json={"note": "到镇上交材料"})
    assert visit.status_code == 200 and visit.json()["visits"] == 1

    # The service token keeps its plain answer.
    plain = client.get(f"/api/v1/conversations/{conversation_id}/cases", headers=SERVICE).json()["items"]
    assert "actions" not in plain[0]


def test_system_entries_say_what_kind_they_are(client, db):
    conversation_id = queued_conversation(client)
    with db() as session:
        gateway.add_system_note(session, conversation_id, "未能通过微信送达居民（已超过48小时客服消息时限）",
                                meta={"kind": "push_undeliverable"})
        session.commit()
    agent = signed_in_client(client, "agent-chibusu-1")
    entries = agent.get(f"/api/v1/conversations/{conversation_id}/transcript").json()["entries"]
    assert entries[-1]["kind"] == "push_undeliverable"
    assert entries[0]["kind"] == "owner"


def test_static_files_are_only_our_own(client):
    js = client.get("/staff/static/inbox.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/staff/static/..%2Fviews.py").status_code == 404
    assert client.get("/staff/static/nothing.js").status_code == 404
