"""Which of an item's materials a resident says they have, from what they type or say.

"身份证户口本都有，莫得残疾证" → 身份证 and 户口簿 covered, 残疾人证 missing. Documents are found
by the names residents use for them (the lexicon's `documents`); each mention takes the sense of
the nearest 有/没有-style word in its clause, so negated documents count as missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from erma.catalog.lexicon import SearchLexicon, cached_lexicon
from erma.catalog.schema import Material, ServiceItemSpec
from erma.catalog.text_features import analyzer_for

# Clause boundaries: punctuation and words that turn the sense ("…有，但是…没带").
_CLAUSE_BREAK = re.compile(r"[，,。.;；！!？?]+|但是|但|不过|可是|就是|只是|然后")
# "除了X其他都有": X is missing, everything not mentioned is there.
_EXCEPT = "除了"
_REST_PRESENT = re.compile(r"(其他|其余|别的|剩下的)(的)?(都|全)(有|带了|带起|齐了|在)")
# Joiners that may stand between a document and the word that gives its sense.
_JOINERS = set("和跟与及也都还全已经我的了呢、/ ")


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    kind: str  # "doc" | "neg" | "pos"
    value: str


class MaterialMatcher:
    """Matches free text against an item's materials with one lexicon."""

    def __init__(self, lexicon: SearchLexicon | None = None):
        self.lexicon = lexicon or cached_lexicon()
        self.analyzer = analyzer_for(self.lexicon)
        # alias (normalised) → document; longest first so 残疾人证 wins over 证.
        aliases: dict[str, str] = {}
        for document, names in self.lexicon.documents.items():
            for name in (document, *names):
                normal = self.analyzer.normalize(name).strip()
                if normal:
                    aliases.setdefault(normal, document)
        self._aliases = aliases
        self._doc_pattern = _alternation(aliases)
        cues = {self.analyzer.normalize(c).strip(): "neg" for c in self.lexicon.negations}
        cues.update({self.analyzer.normalize(c).strip(): "pos" for c in self.lexicon.affirmations})
        cues.pop("", None)
        self._cues = cues
        self._cue_pattern = _alternation(cues)

    @lru_cache(maxsize=2048)  # noqa: B019  (matchers live as long as their lexicon)
    def documents_in(self, text: str) -> frozenset[str]:
        if self._doc_pattern is None:
            return frozenset()
        normal = self.analyzer.normalize(text)
        return frozenset(self._aliases[m.group(0)] for m in self._doc_pattern.finditer(normal))

    def mentions(self, text: str) -> tuple[dict[str, bool], bool]:
        """Documents mentioned with their sense (True = has it), and whether the resident said
        that everything not mentioned is there."""
        normal = self.analyzer.normalize(text)
        rest_present = bool(_REST_PRESENT.search(normal))
        senses: dict[str, bool] = {}
        for clause in _CLAUSE_BREAK.split(normal):
            if not clause:
                continue
            excepted = _EXCEPT in clause
            for document, has in self._clause_senses(clause).items():
                if excepted and rest_present:
                    has = False
                # Any "没有" for a document wins: better listed as missing than a wasted trip.
                senses[document] = senses.get(document, True) and has
        return senses, rest_present

    def _clause_senses(self, clause: str) -> dict[str, bool]:
        tokens = self._tokens(clause)
        senses: dict[str, bool] = {}
        used: set[int] = set()
        for i, token in enumerate(tokens):
            if token.kind != "doc":
                continue
            cue = self._preceding_cue(tokens, i, clause, adjacent_only=True, skip=used)
            if cue is None:
                cue = self._following_cue(tokens, i, clause)
            if cue is None:
                cue = self._preceding_cue(tokens, i, clause, adjacent_only=False, skip=set())
            if cue is not None:
                used.add(cue)
            has = True if cue is None else tokens[cue].kind == "pos"
            senses[token.value] = senses.get(token.value, True) and has
        return senses

    def _tokens(self, clause: str) -> list[_Token]:
        """Document names and 有/没有 words in the clause, in order; documents claim text first."""
        found: list[_Token] = []
        taken = [False] * len(clause)
        for pattern, is_document in ((self._doc_pattern, True), (self._cue_pattern, False)):
            if pattern is None:
                continue
            for m in pattern.finditer(clause):
                if any(taken[m.start() : m.end()]):
                    continue
                taken[m.start() : m.end()] = [True] * (m.end() - m.start())
                word = m.group(0)
                if is_document:
                    found.append(_Token(m.start(), m.end(), "doc", self._aliases[word]))
                else:
                    found.append(_Token(m.start(), m.end(), self._cues[word], word))
        return sorted(found, key=lambda t: t.start)

    @staticmethod
    def _gap_ok(clause: str, start: int, end: int, limit: int) -> bool:
        gap = clause[start:end]
        return len([c for c in gap if c not in _JOINERS]) <= limit

    def _preceding_cue(self, tokens: list[_Token], i: int, clause: str, adjacent_only: bool, skip: set[int]) -> int | None:
        for j in range(i - 1, -1, -1):
            if tokens[j].kind == "doc":
                if adjacent_only:
                    return None
                continue
            if j in skip:
                return None
            if adjacent_only and not self._gap_ok(clause, tokens[j].end, tokens[i].start, 1):
                return None
            return j
        return None

    def _following_cue(self, tokens: list[_Token], i: int, clause: str) -> int | None:
        # "身份证和户口簿都有": skip further documents to reach the cue that covers them all.
        for j in range(i + 1, len(tokens)):
            if tokens[j].kind == "doc":
                continue
            if self._gap_ok(clause, tokens[j - 1].end, tokens[j].start, 3):
                return j
            return None
        return None

    def match(self, item: ServiceItemSpec, text: str) -> tuple[list[Material], list[Material]]:
        """(materials the text covers, required materials still missing), in catalog order."""
        senses, rest_present = self.mentions(text)
        normal_text = self.analyzer.normalize(text)
        have: list[Material] = []
        missing: list[Material] = []
        for material in item.materials:
            covered = self._covered(material, senses, normal_text, rest_present)
            if covered:
                have.append(material)
            elif material.required:
                missing.append(material)
        return have, missing

    def _covered(self, material: Material, senses: dict[str, bool], normal_text: str, rest_present: bool) -> bool:
        documents = self.documents_in(material.name)
        if documents:
            mentioned = [senses[d] for d in documents if d in senses]
            if not mentioned:
                return rest_present
            # "A或B" needs one of them; "A及B" / "A、B" needs every document named.
            if "或" in material.name:
                return any(mentioned)
            return all(mentioned) and (len(mentioned) == len(documents) or rest_present)
        # A material with no known document name: its own name must appear, not negated.
        core = self.analyzer.normalize(re.sub(r"（[^（）]*）", "", material.name)).strip()
        if core and core in normal_text:
            clause = next((c for c in _CLAUSE_BREAK.split(normal_text) if core in c), "")
            return not any(self._cues.get(m.group(0)) == "neg" for m in self._cue_pattern.finditer(clause))
        return rest_present


def _alternation(words: dict[str, str]) -> re.Pattern[str] | None:
    ordered = sorted(words, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


@lru_cache(maxsize=4)
def _default_matcher(lexicon: SearchLexicon) -> MaterialMatcher:
    return MaterialMatcher(lexicon)


def match_materials(
    item: ServiceItemSpec, text: str, lexicon: SearchLexicon | None = None
) -> tuple[list[Material], list[Material]]:
    """(covered materials, required materials still missing) for what the resident says."""
    return _default_matcher(lexicon or cached_lexicon()).match(item, text)


def match_named_materials(
    item: ServiceItemSpec, names: list[str], lexicon: SearchLexicon | None = None
) -> tuple[list[Material], list[Material]]:
    """Like match_materials for a list of materials the resident ticked: exact catalog names,
    or their own words for a document ("户口本")."""
    exact = {n.strip() for n in names}
    matcher = _default_matcher(lexicon or cached_lexicon())
    said = "，".join(n for n in exact if item.material(n) is None)
    by_text, _ = matcher.match(item, said) if said else ([], [])
    covered = {m.name for m in by_text} | {n for n in exact if item.material(n) is not None}
    have = [m for m in item.materials if m.name in covered]
    missing = [m for m in item.materials if m.name not in covered and m.required]
    return have, missing
