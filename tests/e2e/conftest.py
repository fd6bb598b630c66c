"""End-to-end: a resident's messages go through the platform's web-chat API (the gateway, which
keeps ID numbers and phones out of Rasa) to Rasa, the action server calls the real platform
process, and the tests check what reached the platform — not only the replies.

`scripts/test.sh` starts the three processes on a fresh SQLite database and sets
ERMA_PLATFORM_URL and RASA_URL; run from `make test`.
"""
from __future__ import annotations

import os
import pathlib
import uuid

import httpx
import yaml
import pytest

from erma.webchat.tokens import conversation_id_from
from tests.synthetic import fresh_id_number, masked_id  # noqa: F401  (re-exported for the tests)

PLATFORM = os.environ.get("ERMA_PLATFORM_URL", "http://127.0.0.1:8000")
RASA = os.environ.get("RASA_URL", "http://127.0.0.1:5005")
SERVICE = {"Authorization": f"Bearer {os.environ.get('ERMA_SERVICE_TOKEN', 'dev-service-token')}"}
DEMO_PASSWORD = "erma-demo-2026"


class Resident:
    """One web-chat conversation, as the resident's page holds it (its token)."""

    def __init__(self) -> None:
        r = httpx.post(f"{PLATFORM}/chat/api/conversations", timeout=10)
        r.raise_for_status()
        self.token = r.json()["token"]
        self.sender = conversation_id_from(self.token)  # the gateway's conversation id is Rasa's sender id
        self.transcript: list[tuple[str, str]] = []

    def say(self, text: str) -> str:
        r = httpx.post(f"{PLATFORM}/chat/api/messages", timeout=90,
                       json={"token": self.token, "text": text, "client_msg_id": uuid.uuid4().hex})
        assert r.status_code == 200, r.text
        answers = r.json()["replies"]
        replies = [m.get("text", "") for m in answers]
        for m in answers:
            for b in m.get("buttons") or []:
                replies.append(f"[{b.get('title')}]({b.get('payload')})")
        self.transcript.append((text, "\n".join(replies)))
        return "\n".join(replies)

    def cases(self) -> list[dict]:
        r = httpx.get(f"{PLATFORM}/api/v1/conversations/{self.sender}/cases", headers=SERVICE, timeout=10)
        r.raise_for_status()
        return r.json()["items"]


@pytest.fixture
def resident(request) -> Resident:
    who = Resident()
    yield who
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print("\n".join(f"居民：{q}\n助手：{a}" for q, a in who.transcript))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def staff(username: str) -> dict:
    r = httpx.post(f"{PLATFORM}/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}, timeout=10)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def platform_get(path: str, headers: dict | None = None) -> dict:
    r = httpx.get(f"{PLATFORM}{path}", headers=headers or SERVICE, timeout=10)
    r.raise_for_status()
    return r.json()


def platform_post(path: str, body: dict, headers: dict) -> dict:
    r = httpx.post(f"{PLATFORM}{path}", json=body, headers=headers, timeout=10)
    assert r.status_code < 300, r.text
    return r.json()


def collect_missing_materials(case_no: str) -> None:
    """The agent holding the case collects what the resident did not have when applying in the chat
    (the town approves only a complete file), as the workbench's 登记收到的材料 does."""
    agent = staff(holder_username(platform_get(f"/api/v1/cases/{case_no}")))
    review = platform_get(f"/api/v1/cases/{case_no}/review", agent)
    missing = [row["name"] for row in review["checklist"] if row["status"] == "missing"]
    if missing:
        platform_post(f"/api/v1/cases/{case_no}/materials",
                      {"materials": [{"name": name, "form": "original"} for name in missing],
                       "occasion": "collection", "in_person": False}, agent)


def holder_username(case_view: dict) -> str:
    """The demo agent holding the case (only they move it on), found by the credential number the case names."""
    path = pathlib.Path(__file__).resolve().parents[2] / "catalog" / "demo_staff.yaml"
    staff = yaml.safe_load(path.read_text(encoding="utf-8"))["staff"]
    return next(s["username"] for s in staff if s.get("credential_no") == case_view["agent"]["credential_no"])

