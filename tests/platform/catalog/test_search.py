"""Catalog search on colloquial resident wording (index built from the YAML, no database)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from erma.catalog.search import MIN_SCORE
from erma.settings import ROOT

HERE = Path(__file__).parent
NONSENSE = yaml.safe_load((HERE / "search_queries.yaml").read_text(encoding="utf-8"))["nonsense"]


def _accuracy(catalog_search, queries: list[dict]) -> tuple[float, list[str]]:
    misses = []
    for case in queries:
        found = catalog_search.search(case["q"], limit=3)
        if not found or found[0][0] != case["code"]:
            got = ", ".join(f"{c} {catalog_search.items[c].name} {s:.2f}" for c, s in found) or "（无结果）"
            misses.append(f"{case['q']} → 应为 {case['code']} {catalog_search.items[case['code']].name}；得到 {got}")
    return 1 - len(misses) / len(queries), misses


def test_the_query_file_is_large_varied_and_not_copied_from_the_catalog(query_file, catalog_items):
    queries = query_file["queries"]
    assert len(queries) >= 160
    assert len({q["q"] for q in queries}) == len(queries)
    phrasings = {p for item in catalog_items for p in item.phrasings}
    assert not [q["q"] for q in queries if q["q"] in phrasings]
    assert {q["code"] for q in queries} == {item.code for item in catalog_items}
    assert len(NONSENSE) >= 15


def test_top1_accuracy_on_colloquial_queries(catalog_search, query_file):
    accuracy, misses = _accuracy(catalog_search, query_file["queries"])
    print(f"\ntop-1 accuracy {accuracy:.3f} on {len(query_file['queries'])} queries; misses:")
    print("\n".join(misses))
    assert accuracy >= 0.90


def test_top1_accuracy_on_queries_never_used_for_tuning(catalog_search):
    holdout = yaml.safe_load((HERE / "search_queries_holdout.yaml").read_text(encoding="utf-8"))["queries"]
    accuracy, misses = _accuracy(catalog_search, holdout)
    print(f"\nheld-out top-1 accuracy {accuracy:.3f} on {len(holdout)} queries; misses:")
    print("\n".join(misses))
    assert accuracy >= 0.85


@pytest.mark.parametrize("text", NONSENSE)
def test_nonsense_finds_nothing(catalog_search, text):
    assert catalog_search.search(text) == []


@pytest.mark.parametrize("text", ["", "   ", "？？", "😀", "123"])
def test_empty_or_symbol_only_text_finds_nothing(catalog_search, text):
    assert catalog_search.search(text) == []


@pytest.mark.parametrize(
    ("variants", "code"),
    [
        (["低保咋个申请", "低保怎么申请", "底保怎么申请", "低保怎麼申請", "ＤＩ低保怎么申请？"], "MX-001"),
        (["老汉儿满80了高龄补贴", "父亲满80了高龄补贴", "老汉儿满８０了高齡補貼"], "MX-013"),
        (["娃儿的出生证搞丢了", "孩子的出生证明丢了", "娃儿的出生証搞丟了"], "MX-059"),
        (["屋头莫得户口本了，要补", "家里没有户口簿了，要补办"], "MX-088"),
    ],
)
def test_dialect_traditional_full_width_and_homophones_find_the_same_item(catalog_search, variants, code):
    for text in variants:
        found = catalog_search.search(text, limit=1)
        assert found and found[0][0] == code, (text, found)


def test_results_are_ranked_scores_in_0_to_1_and_respect_the_limit(catalog_search):
    found = catalog_search.search("残疾人补贴", limit=4)
    assert 1 <= len(found) <= 4
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    assert all(MIN_SCORE <= s <= 1 for s in scores)
    assert catalog_search.search("残疾人补贴", limit=1) == found[:1]


def test_a_long_rambling_message_still_finds_the_need(catalog_search):
    text = ("喂喂，听得到不？我是土门镇的，在绵阳工地上做活路，屋头就我妈一个人在山上，她今年满八十了，"
            "村上的人说老人满八十有个高龄津贴，我又回不来，你们能不能帮她办一下嘛，要些啥子东西嘛？")
    assert catalog_search.search(text, limit=1)[0][0] == "MX-013"


def test_search_is_fast_once_built(catalog_search, query_file):
    texts = [q["q"] for q in query_file["queries"]]
    started = time.perf_counter()
    for text in texts:
        catalog_search.search(text)
    assert (time.perf_counter() - started) / len(texts) < 0.1


def test_building_the_index_prints_no_jieba_noise():
    code = (
        "from erma.catalog.search import search_for_file\n"
        "from erma.settings import ROOT\n"
        "s = search_for_file(ROOT / 'catalog' / 'services.yaml')\n"
        "print(s.search('低保')[0][0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "MX-001"
    assert "Building prefix dict" not in done.stderr and "Loading model" not in done.stderr
