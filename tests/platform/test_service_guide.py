"""The public service guide (/services, /services/{code}): no sign-in, every catalog item, and for
each item the very words of the assistant's requirement answer (GET /api/v1/services/{code}/answer)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from erma.settings import get_settings
from tests.platform.conftest import SERVICE

BLOCKS = {"h2", "li", "p"}


class AnswerText(HTMLParser):
    """The text of each block (heading, material, sentence) inside <section class="answer">."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside the answer section
        self.current: list[str] | None = None
        self.blocks: list[str] = []
        self.meta: dict[str, str] = {}
        self.links: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title":
            self._in_title = True
        if tag == "meta":
            self.meta[attrs.get("property") or attrs.get("name") or ""] = attrs.get("content") or ""
        if tag == "link" and attrs.get("rel") == "canonical":
            self.meta["canonical"] = attrs["href"]
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "section":
            if self.depth or "answer" in (attrs.get("class") or "").split():
                self.depth += 1
        if self.depth and tag in BLOCKS:
            self.current = []

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if self.depth and tag in BLOCKS and self.current is not None:
            self.blocks.append("".join(self.current).strip())
            self.current = None
        if tag == "section" and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self.current is not None:
            self.current.append(data)


def parse(html_text: str) -> AnswerText:
    parser = AnswerText()
    parser.feed(html_text)
    return parser


@pytest.mark.parametrize("code", ["MX-001", "MX-013", "MX-019"])
def test_the_item_page_shows_the_assistants_answer_word_for_word(client, code):
    said = client.get(f"/api/v1/services/{code}/answer", headers=SERVICE)
    assert said.status_code == 200, said.text
    page = client.get(f"/services/{code}")  # no sign-in, no token
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = parse(page.text)
    assert shown.blocks == said.json()["text"].splitlines()
    assert said.json()["message"].startswith(said.json()["text"])  # the chat prints the same text first


def test_the_answer_tells_everything_once(client):
    text = client.get("/api/v1/services/MX-013/answer").json()["text"]
    item = client.get("/api/v1/services/MX-013").json()
    for material in item["materials"]:
        assert material["name"] in text
    assert "〔可后补〕" in text  # a 容缺-listed item marks what may follow later
    assert "免费" in text and "个工作日内办好" in text
    assert "村便民服务站" in text and "镇便民服务中心" in text and "尔玛云便民服务代办点" in text
    assert "凤仪镇" in text  # the county point's town, from the places data


def test_material_lines_say_who_provides_and_what_depends(client):
    items = client.get("/api/v1/services").json()["items"]
    by_supplier = conditional = None
    for summary in items:
        item = client.get(f"/api/v1/services/{summary['code']}").json()
        for m in item["materials"]:
            if by_supplier is None and m["supplier"] == "村委会":
                by_supplier = (item["code"], m["name"])
            if conditional is None and not m["required"]:
                conditional = (item["code"], m["name"])
        if by_supplier and conditional:
            break
    assert by_supplier and conditional
    lines = client.get(f"/api/v1/services/{by_supplier[0]}/answer").json()["text"].splitlines()
    assert any(by_supplier[1] in line and "找村委会开" in line for line in lines)
    lines = client.get(f"/api/v1/services/{conditional[0]}/answer").json()["text"].splitlines()
    assert any(conditional[1] in line and "〔视情况〕" in line for line in lines)


def test_a_not_listed_item_says_no_deferral(client):
    text = client.get("/api/v1/services/MX-001/answer").json()["text"]
    assert "〔可后补〕" not in text and "不能容缺" in text


def test_the_chat_answer_ends_with_the_guides_link(client, monkeypatch):
    answer = client.get("/api/v1/services/mx-013/answer", headers=SERVICE).json()
    assert answer["guide_url"] == "http://testserver/services/MX-013"
    assert answer["message"].splitlines()[-1].endswith("http://testserver/services/MX-013")

    monkeypatch.setenv("ERMA_PUBLIC_URL", "https://erma.example.cn/")
    get_settings.cache_clear()
    try:
        answer = client.get("/api/v1/services/MX-013/answer", headers=SERVICE).json()
        page = parse(client.get("/services/MX-013").text)
    finally:
        monkeypatch.delenv("ERMA_PUBLIC_URL")
        get_settings.cache_clear()
    assert answer["message"].endswith("https://erma.example.cn/services/MX-013")
    assert page.meta["canonical"] == page.meta["og:url"] == "https://erma.example.cn/services/MX-013"


def test_the_detail_asked_comes_first_and_the_town_names_its_window(client):
    answer = client.get("/api/v1/services/MX-013/answer", params={"fact": "time", "town": "赤不苏镇"}).json()
    first = answer["message"].splitlines()[0]
    assert first.startswith("办理时间：承诺") and first == answer["lead"]
    assert "找赤不苏镇窗口" in answer["text"]
    plain = client.get("/api/v1/services/MX-013/answer", params={"fact": "nonsense"}).json()
    assert plain["lead"] is None and "找您户口所在镇的窗口" in plain["text"]


def test_the_page_can_be_shared(client):
    page = client.get("/services/MX-013")
    shown = parse(page.text)
    assert "高龄" in shown.title and shown.meta["og:title"] == shown.title
    assert "材料" in shown.meta["description"] and shown.meta["og:description"] == shown.meta["description"]
    assert shown.meta["canonical"] == "http://testserver/services/MX-013"
    assert "set-cookie" not in page.headers
    assert "no-store" not in page.headers.get("cache-control", "")
    # One address per item: any spelling of the code lands on the canonical one.
    moved = client.get("/services/mx-013", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/services/MX-013"


def test_an_unknown_item_is_a_404_page_in_chinese(client):
    page = client.get("/services/MX-999")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "没有找到这个事项" in page.text and "MX-999" in page.text and 'href="/services"' in page.text
    assert client.get("/services/" + "x" * 300).status_code == 404


def test_the_list_has_every_catalog_item_by_category(client):
    items = client.get("/api/v1/services").json()["items"]
    page = client.get("/services")
    assert page.status_code == 200
    linked = {href.rsplit("/", 1)[1] for href in parse(page.text).links if re.fullmatch(r"/services/MX-\d{3}", href)}
    assert linked == {i["code"] for i in items} and len(linked) == 109
    for category in {i["category"] for i in items}:
        assert f"<h2>{category}<span" in page.text


def test_the_list_search_uses_the_platforms_item_search(client):
    page = client.get("/services", params={"q": "残疾证搞丢了"})
    results = page.text.split('<section class="results">', 1)[1].split("</section>", 1)[0]
    assert 'href="/services/MX-020"' in results
    nothing = client.get("/services", params={"q": "火星签证"})
    assert "没有找到和“火星签证”对得上的事项" in nothing.text


def test_the_guides_static_files_only(client):
    assert client.get("/services/static/guide.css").status_code == 200
    assert client.get("/services/static/guide.js").status_code == 200
    assert client.get("/services/static/..%2Fviews.py").status_code == 404
