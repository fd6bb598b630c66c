"""The assistant keeps no copy of the platform's rules (issue 14).

- Which item a phrase means, read with its message: `POST /api/v1/understand/resolve`
  (erma/understanding/resolve.py) — one call, the whole message first, the phrase's catalog search
  only when the message names nothing. It decides exactly as the action used to, by asking
  `/understand` and then `/services?q=` itself (checked on the held-out messages' phrases).
- The 好差评 levels and the reading of a resident's words for them: `GET /api/v1/ratings/levels` and
  the rating endpoint (erma/followup/levels.py), one vocabulary where the NLU and the platform used
  to disagree ("还行吧" was 基本满意 to the assistant and unreadable to the platform).
"""
from __future__ import annotations

import re

import pytest
import yaml
from sqlalchemy import update

from erma.catalog.models import ServiceItem
from erma.db import utcnow
from erma.followup.levels import LEVELS, read_level
from tests.platform.conftest import ROOT, SERVICE

RESOLVE = "/api/v1/understand/resolve"


def resolve(client, text: str, phrase: str | None = None) -> dict:
    r = client.post(RESOLVE, json={"text": text, "phrase": phrase}, headers=SERVICE)
    assert r.status_code == 200, r.text
    return r.json()


# --- which item -------------------------------------------------------------------------------------
def test_the_whole_message_settles_what_the_phrase_leaves_open(client):
    got = resolve(client, "残疾证搞丢了", "残疾证")
    assert (got["item"], got["source"], got["choices"]) == ("MX-020", "message", [])
    assert got["name"] == "残疾人证换领、迁移、挂失补办"


def test_a_name_shared_by_two_items_is_a_choice_with_names_for_buttons(client):
    got = resolve(client, "残疾证", "残疾证")
    assert got["item"] is None and got["source"] == "message"
    assert {c["code"] for c in got["choices"]} == {"MX-019", "MX-020"}
    assert all(c["name"] and isinstance(c["score"], float) for c in got["choices"])


def test_the_phrase_alone_is_searched_only_when_the_message_names_nothing(client):
    # A button's payload is not read as words; the phrase still is (the catalog search).
    got = resolve(client, '/inform{"x": 1}', "低保")
    assert (got["item"], got["source"]) == ("MX-001", "phrase")
    # The message is the phrase: searched once, as a message.
    assert resolve(client, "低保")["source"] == "message"


def test_an_item_code_is_that_item_and_nothing_is_nothing(client):
    assert resolve(client, "", "mx-013")["item"] == "MX-013"
    assert resolve(client, "", "MX-999") == {"item": None, "name": None, "choices": [], "source": None}
    assert resolve(client, "你好") == {"item": None, "name": None, "choices": [], "source": None}


def test_a_found_item_comes_with_its_one_time_answer_in_the_same_call(client):
    r = client.post(RESOLVE, json={"text": "高龄津贴好久能办好", "answer": True, "town": "赤不苏镇", "fact": "time"},
                    headers=SERVICE)
    assert r.status_code == 200, r.text
    got = r.json()
    alone = client.get("/api/v1/services/MX-013/answer", params={"town": "赤不苏镇", "fact": "time"}, headers=SERVICE)
    assert got["item"] == "MX-013" and got["answer"] == alone.json()  # the very answer of the answer endpoint
    assert got["answer"]["lead"] and "赤不苏镇" in got["answer"]["message"]
    # A close call or nothing found: no answer; without `answer` the reply is as before.
    assert "answer" not in client.post(RESOLVE, json={"text": "残疾证", "answer": True}, headers=SERVICE).json()
    assert "answer" not in resolve(client, "高龄津贴要带啥")


def test_catalog_answers_name_a_version_that_changes_with_the_catalog(client, db):
    tags = {client.get("/api/v1/services/MX-013").headers["X-Erma-Catalog-Version"],
            client.post(RESOLVE, json={"text": "低保"}, headers=SERVICE).headers["X-Erma-Catalog-Version"]}
    assert len(tags) == 1 and "sqlite" not in tags.copy().pop() and "postgres" not in tags.copy().pop()
    with db() as session:  # an admin's edit stamps the item
        session.execute(update(ServiceItem).where(ServiceItem.code == "MX-013").values(updated_at=utcnow()))
        session.commit()
    assert client.get("/api/v1/services/MX-013").headers["X-Erma-Catalog-Version"] not in tags


def test_resolving_answers_the_assistant_only_and_bounds_its_input(client, login):
    assert client.post(RESOLVE, json={"text": "低保要带啥"}).status_code == 401
    assert client.post(RESOLVE, json={"text": "低保要带啥"}, headers=login("agent-chibusu-1")).status_code == 403
    assert client.post(RESOLVE, json={"text": "低" * 5000}, headers=SERVICE).status_code == 422


def _held_out_phrases(limit: int = 60) -> list[tuple[str, str]]:
    """(message, the service phrase annotated in it) from the held-out NLU set."""
    data = yaml.safe_load((ROOT / "tests/nlu_heldout/heldout.yml").read_text(encoding="utf-8"))
    pairs = []
    for block in data["nlu"]:
        for line in block.get("examples", "").splitlines():
            line = line.strip()[2:].strip()
            found = re.search(r"\[([^\]]+)\]\(service\)", line)
            if found:
                text = re.sub(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})", r"\1", line)
                pairs.append((text, found.group(1)))
    return pairs[:limit]


def _as_the_action_used_to(client, text: str, phrase: str) -> tuple:
    """The policy actions/requirements.py held before this endpoint: /understand on the whole
    message, then the catalog search on the phrase when the message named nothing."""
    understood = client.post("/api/v1/understand", json={"text": text}, headers=SERVICE).json()
    if understood["item"]:
        return understood["item"], ()
    if understood["choices"]:
        return None, tuple(c["code"] for c in understood["choices"])
    if phrase != text:
        found = client.get("/api/v1/services", params={"q": phrase, "limit": 5}).json()
        if found["ambiguous"] and found["choices"]:
            return None, tuple(c["code"] for c in found["choices"])
        if found["items"]:
            return found["items"][0]["code"], ()
    return None, ()


def test_one_call_decides_as_the_two_calls_did(client):
    pairs = _held_out_phrases()
    assert len(pairs) >= 40
    for text, phrase in pairs:
        got = resolve(client, text, phrase)
        assert (got["item"], tuple(c["code"] for c in got["choices"])) == _as_the_action_used_to(client, text, phrase), text


# --- 好差评 levels ------------------------------------------------------------------------------------
def test_the_levels_the_assistant_offers(client):
    r = client.get("/api/v1/ratings/levels")
    assert r.status_code == 200
    assert r.json()["items"] == [
        {"level": 5, "text": "非常满意", "bad": False}, {"level": 4, "text": "满意", "bad": False},
        {"level": 3, "text": "基本满意", "bad": False}, {"level": 2, "text": "不满意", "bad": True},
        {"level": 1, "text": "非常不满意", "bad": True}]


@pytest.mark.parametrize("raw, level", [
    ("非常满意", 5), ("很满意", 5), ("满意", 4), ("还算满意", 4),
    ("基本满意", 3), ("还可以", 3), ("一般般", 3), ("还行吧", 3),
    ("不满意", 2), ("不太满意", 2), ("差评", 2),
    ("非常不满意", 1), ("太不满意了", 1),
    ("5星", 5), ("五星好评", 5), ("4分", 4), ("打4分", 4), ("四星", 4),
    ("3", 3), ("3星", 3), ("两星", 2), ("1分", 1), ("一星", 1), ("1", 1),
    ("10分", 5), ("8分", 4), ("好评", 4), ("巴适", 5), ("满分", 5), ("５星", 5),
    (5, 5), (1, 1),
    ("随便", None), ("", None), (None, None), (0, None), (6, None), (True, None), ("0分", None),
])
def test_residents_words_for_a_level(raw, level):
    assert read_level(raw) == level


def test_every_level_reads_as_itself():
    assert {text: read_level(text) for text in LEVELS.values()} == {text: level for level, text in LEVELS.items()}
