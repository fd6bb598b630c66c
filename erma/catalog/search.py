"""Finding the service item a resident means, from free colloquial text.

Each item is indexed by its name, its resident phrasings and who may apply (the first line of
its guide). Query and item are compared in three feature spaces (jieba words, character bigrams,
pinyin bigrams — see text_features), weighted by TF-IDF over the catalog. Per space the
similarity is a weighted geometric mean of how much of the query the item explains and how much
of the item the query touches, leaning on the former: a resident's extra words about their
situation should not hide the item, but a word the catalog never uses still counts as
unexplained, so an accidental one-word overlap scores low and nonsense scores nothing. A match
found only in a resident phrasing, sharing nothing with the item's own name or description, is
discounted. Scores lie in 0..1; below MIN_SCORE the search answers with nothing.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from erma.catalog.checklist import match_materials  # noqa: F401  (re-exported: the search API)
from erma.catalog.lexicon import SearchLexicon, cached_lexicon
from erma.catalog.loader import load_catalog
from erma.catalog.schema import ServiceItemSpec
from erma.catalog.text_features import Features, analyzer_for

# How much each feature kind counts: words carry meaning, bigrams catch typos and homophones.
KIND_WEIGHTS = {"words": 0.45, "chars": 0.35, "sounds": 0.20}
# Share of "explains the query" against "covers the item" in each similarity.
QUERY_SIDE = 0.6
# The single best-matching text of an item against all its texts pooled.
BEST_TEXT_SHARE = 0.3
# A match on resident phrasings alone, sharing nothing with the item's own description.
PHRASING_ONLY_FACTOR = 0.35
# Scores below this mean nothing in the catalog fits (measured on tests/platform/catalog).
MIN_SCORE = 0.27

Vector = dict[str, float]


@dataclass(frozen=True)
class _Indexed:
    code: str
    pooled: dict[str, Vector]
    texts: tuple[dict[str, Vector], ...]
    # Words and bigrams of the item's own description (name, who may apply).
    official: frozenset[str]


class CatalogSearch:
    """In-memory index over the catalog; build once per catalog version and share (read-only)."""

    def __init__(self, items: Iterable[ServiceItemSpec], lexicon: SearchLexicon | None = None):
        self.items = {item.code: item for item in items}
        self.analyzer = analyzer_for(lexicon or cached_lexicon())
        per_text = {code: [self.analyzer.features(t) for t in _item_texts(item)] for code, item in self.items.items()}
        # The name counts three times in the pooled text: it is the item's most careful wording.
        pooled = {code: _pool([*fs, fs[0], fs[0]]) for code, fs in per_text.items()}
        self._idf = _idf(pooled.values())
        self._unseen_idf = math.log((len(self.items) + 1) / 0.5)
        self._index = tuple(
            _Indexed(
                code,
                self._weights(pooled[code], doc=True),
                tuple(self._weights(f, doc=True) for f in fs),
                frozenset(f for feats in (fs[0], fs[-1]) for f in (*feats.words, *feats.chars) if len(f) > 1),
            )
            for code, fs in per_text.items()
        )

    def _weights(self, features: Features, doc: bool) -> dict[str, Vector]:
        vectors = {}
        for kind, counts in features.by_kind().items():
            idf = self._idf[kind]
            vectors[kind] = {
                f: (1.0 + math.log(c) if c >= 1 else c) * idf.get(f, self._unseen_idf)
                for f, c in counts.items()
                # A lone character in the catalog text is too vague to match on; in the query it
                # still counts as content the item must explain.
                if not (doc and kind == "words" and len(f) == 1)
            }
        return vectors

    def _similarity(self, query: dict[str, Vector], doc: dict[str, Vector]) -> float:
        return sum(weight * _coverage(query[kind], doc[kind]) for kind, weight in KIND_WEIGHTS.items())

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Every item's score in 0..1 for the text, best first, without the threshold."""
        query = self._weights(self.analyzer.features(text), doc=False)
        if not any(query.values()):
            return []
        ranked = []
        for entry in self._index:
            best_text = max(self._similarity(query, t) for t in entry.texts)
            raw = BEST_TEXT_SHARE * best_text + (1 - BEST_TEXT_SHARE) * self._similarity(query, entry.pooled)
            if entry.official.isdisjoint(query["words"]) and entry.official.isdisjoint(query["chars"]):
                # Only a resident phrasing's incidental word matched (坐火车 for 火车票).
                raw *= PHRASING_ONLY_FACTOR
            # sqrt spreads the typical range over 0..1 without changing the order.
            ranked.append((entry.code, math.sqrt(min(1.0, raw))))
        ranked.sort(key=lambda pair: pair[1], reverse=True)
        return ranked

    def search(self, text: str, limit: int = 5) -> list[tuple[str, float]]:
        """The items the text most likely means, best first; empty when nothing fits."""
        return [(code, round(score, 4)) for code, score in self.scores(text)[: max(limit, 0)] if score >= MIN_SCORE]


def _item_texts(item: ServiceItemSpec) -> list[str]:
    """Name first, then phrasings, then who may apply (the guide's first line)."""
    who = item.guide.splitlines()[0].split("：", 1)[-1]
    return [item.name, *(p for p in item.phrasings if p != item.name), who]


def _coverage(query: Vector, doc: Vector) -> float:
    query_mass = sum(v * v for v in query.values())
    doc_mass = sum(v * v for v in doc.values())
    if not query_mass or not doc_mass:
        return 0.0
    shared = [f for f in query if f in doc]
    if not shared:
        return 0.0
    explained = sum(query[f] ** 2 for f in shared) / query_mass
    touched = sum(doc[f] ** 2 for f in shared) / doc_mass
    return explained**QUERY_SIDE * touched ** (1 - QUERY_SIDE)


def _pool(features: Sequence[Features]) -> Features:
    pooled = Features(Counter(), Counter(), Counter())
    for f in features:
        pooled.words.update(f.words)
        pooled.chars.update(f.chars)
        pooled.sounds.update(f.sounds)
    return pooled


def _idf(documents: Iterable[Features]) -> dict[str, dict[str, float]]:
    documents = list(documents)
    n = len(documents)
    idf: dict[str, dict[str, float]] = {}
    for kind in KIND_WEIGHTS:
        df: Counter = Counter()
        for doc in documents:
            df.update(set(doc.by_kind()[kind]))
        idf[kind] = {f: math.log((n + 1) / (d + 0.5)) for f, d in df.items()}
    return idf


@lru_cache(maxsize=2)
def search_for_file(catalog_path: Path, lexicon_path: Path | None = None) -> CatalogSearch:
    """A search over a catalog file, built once per path (for scripts and tests)."""
    lexicon = cached_lexicon(lexicon_path) if lexicon_path else cached_lexicon()
    return CatalogSearch(load_catalog(catalog_path), lexicon)
