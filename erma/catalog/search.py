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

Which item the resident means (``find``): one clear best is the answer. When others score
within CLOSE_SCORE_GAP of the best, the call is close and the resident is asked to choose among
them (at most MAX_CHOICES) — unless what they said names one of the close items outright: it is
or contains one of that item's short everyday names (the lexicon's ``service_names``, plus the
item's own name), what it names is more specific than anything naming the other close items
("残疾证丢了" names 补办 through 残疾证+丢失, which says more than 新办's bare 残疾证), and the
name either agrees with the best score or is most of what was said. Names only settle close
calls: they never override a clear search answer, and never bring in an item the search did not
find close.
"""
from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
# Items scoring within this of the best are a close call: the resident chooses among them.
CLOSE_SCORE_GAP = 0.1
# At most this many close items are offered to choose from.
MAX_CHOICES = 4
# A name for a close item other than the best decides only when it is at least this share of
# what the resident said (content characters, filler words left out).
NAMED_SHARE = 0.5

Vector = dict[str, float]
log = logging.getLogger(__name__)
_NOT_CONTENT = re.compile(r"[^\u4e00-\u9fffa-z0-9]+")


@dataclass(frozen=True)
class _NameQuery:
    text: str  # normalised content characters
    boundaries: frozenset[int]  # where words start and end in text
    content: int  # characters of content words (filler words left out)


@dataclass(frozen=True)
class SearchResult:
    """The ranked items, and whether the resident must still choose among ``choices``."""

    items: list[tuple[str, float]] = field(default_factory=list)  # best first, at most `limit`
    ambiguous: bool = False
    choices: list[tuple[str, float]] = field(default_factory=list)  # only when ambiguous

    @property
    def best(self) -> str | None:
        """The item meant, when there is one (not ambiguous and something found)."""
        return self.items[0][0] if self.items and not self.ambiguous else None


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
        lexicon = lexicon or cached_lexicon()
        self.items = {item.code: item for item in items}
        self.analyzer = analyzer_for(lexicon)
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
        self._names = self._build_names(lexicon)

    def _compact(self, text: str) -> str:
        """A name as it is matched: normalised like queries, content characters only."""
        return _NOT_CONTENT.sub("", self.analyzer.normalize(text))

    def _query_for_names(self, text: str) -> _NameQuery:
        """The query as names are matched in it: normalised content characters, where its words
        start and end, and how much content (not filler words) it holds."""
        normalized = self.analyzer.normalize(text)
        compact, boundaries, offset = [], {0}, 0
        # The analyzer's own word list (the lexicon's terms) decides where words end.
        for token in self.analyzer.words(normalized):
            token = _NOT_CONTENT.sub("", token)
            if token:
                compact.append(token)
                offset += len(token)
                boundaries.add(offset)
        content = sum(len(_NOT_CONTENT.sub("", t)) for run in self.analyzer.segments(normalized) for t in run)
        return _NameQuery("".join(compact), frozenset(boundaries), content)

    def _build_names(self, lexicon: SearchLexicon) -> dict[str, tuple[tuple[str, ...], ...]]:
        """Each item's names, normalised like queries: the lexicon's short names and the item's own
        name (with and without its bracketed note)."""
        unknown = sorted(set(lexicon.service_names) - set(self.items))
        if unknown:
            log.warning("search lexicon service_names: codes not in the catalog ignored: %s", ", ".join(unknown))
        names: dict[str, tuple[tuple[str, ...], ...]] = {}
        for code, item in self.items.items():
            own = {item.name, re.split(r"[（(]", item.name, maxsplit=1)[0]}
            parsed = {tuple(self._compact(part) for part in parts) for parts in lexicon.service_names.get(code, ())}
            parsed |= {(self._compact(name),) for name in own}
            names[code] = tuple(sorted(n for n in parsed if all(n)))
        return names

    def _named_span(self, query: _NameQuery, code: str) -> frozenset[int]:
        """The characters of the query that name this item; empty when none does. A one-character
        part must be a word of its own (补 in 要补, not in 补贴)."""
        covered: set[int] = set()
        for parts in self._names.get(code, ()):
            spans = []
            for part in parts:
                found = [
                    range(m.start(), m.end())
                    for m in re.finditer(re.escape(part), query.text)
                    if len(part) > 1 or (m.start() in query.boundaries and m.end() in query.boundaries)
                ]
                if not found:
                    break
                spans.append(found)
            else:
                covered.update(i for found in spans for r in found for i in r)
        return frozenset(covered)

    def named(self, text: str, candidates: Sequence[str]) -> tuple[list[str], float]:
        """Of the candidates, those the text names most specifically, in the candidates' order —
        one when it is named outright, several when the text names them equally (or names
        unrelated things), none when it names none of them — and the share of what was said
        that those names account for."""
        query = self._query_for_names(text)
        spans = {code: self._named_span(query, code) for code in candidates}
        spans = {code: span for code, span in spans.items() if span}
        # An item is out when another item is named by strictly more of what was said.
        best = [code for code, span in spans.items() if not any(span < other for other in spans.values())]
        covered = frozenset().union(*(spans[code] for code in best))
        return best, min(1.0, len(covered) / query.content) if query.content else 0.0

    def named_alike(self, text: str, candidates: Sequence[str]) -> list[str]:
        """The candidates named by the very same words, when those words are all that was said —
        a name the lexicon lists under several items ("残疾证": 新办 and 补办): the resident
        chooses. Empty otherwise."""
        query = self._query_for_names(text)
        spans = [(code, self._named_span(query, code)) for code in candidates]
        spans = [(code, span) for code, span in spans if span]
        if len(spans) < 2 or not query.content:
            return []
        first = spans[0][1]
        if any(span != first for _, span in spans) or len(first) < query.content:
            return []
        return [code for code, _ in spans]

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

    def find(self, text: str, limit: int = 5) -> SearchResult:
        """The ranked items and the platform's decision: one item meant, or a close call to ask.

        The decision does not depend on ``limit``: it looks at every item above MIN_SCORE."""
        ranked = [(code, round(score, 4)) for code, score in self.scores(text) if score >= MIN_SCORE]
        if not ranked:
            return SearchResult()
        top = ranked[0][1]
        close = [(code, score) for code, score in ranked if top - score < CLOSE_SCORE_GAP]
        ambiguous, choices = False, []
        if len(close) > 1:
            named, said = self.named(text, [code for code, _ in close])
            # A name settles the call when it agrees with the search's best, or when it is most of
            # what was said; a passing mention in a long message ("屋头又是低保户，…护理补贴")
            # does not outweigh the rest of it.
            if len(named) == 1 and (named[0] == close[0][0] or said >= NAMED_SHARE):
                # Named outright: it goes first, whatever its score.
                ranked = [pair for pair in ranked if pair[0] == named[0]] + [p for p in ranked if p[0] != named[0]]
            else:
                ambiguous = True
                # Items named equally ("残疾证": 新办 or 补办) are always among the choices; when
                # the names are all that was said, only they are offered. Best first.
                first = [pair for pair in close if pair[0] in named] if len(named) > 1 else []
                rest = [] if first and said >= 1.0 else [pair for pair in close if pair not in first]
                offered = {code for code, _ in (first + rest)[:MAX_CHOICES]}
                choices = [pair for pair in close if pair[0] in offered]
        return SearchResult(ranked[: max(limit, 0)], ambiguous, choices)


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
