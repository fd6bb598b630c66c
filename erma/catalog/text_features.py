"""Normalising what residents type or say, and turning it into comparable features.

Every text, the catalog's and the resident's, goes through the same steps: full-width to
half-width (NFKC), Traditional to Simplified (OpenCC), lower case, the lexicon's dialect and
colloquial replacements; then three feature kinds are taken from the content words:
jieba words, character bigrams (robust to a wrong or missing character) and toneless, loosely
folded pinyin syllable bigrams (so voice-to-text homophones such as 底保/低保 still match).
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import jieba
from pypinyin import Style, lazy_pinyin

from erma.catalog.lexicon import SearchLexicon
from erma.text_normal import fold_text

# Sichuanese speakers (and speech recognisers hearing them) merge these sounds; folding them
# lets 男/蓝, 是/四, 今/精 meet.
_INITIAL_FOLDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINAL_FOLDS = (("ing", "in"), ("eng", "en"))
_KEEP = re.compile(r"[\u4e00-\u9fff]+|[a-z]+|\d+")


def _quiet_jieba() -> None:
    # jieba logs "Building prefix dict…" at INFO on every first use.
    jieba.setLogLevel(logging.WARNING)


@lru_cache(maxsize=8)
def _tokenizer(words: tuple[str, ...]) -> jieba.Tokenizer:
    """A private jieba tokenizer (other packages keep the global one to themselves), built once."""
    _quiet_jieba()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in words:
        tokenizer.add_word(word, freq=200000)
    return tokenizer


@lru_cache(maxsize=4096)
def _syllable(char: str) -> str:
    syllable = lazy_pinyin(char, style=Style.NORMAL, errors="default")[0]
    for full, short in _INITIAL_FOLDS:
        if syllable.startswith(full):
            syllable = short + syllable[len(full):]
            break
    for full, short in _FINAL_FOLDS:
        if syllable.endswith(full):
            syllable = syllable[: -len(full)] + short
            break
    return syllable


@dataclass(frozen=True)
class Features:
    words: Counter
    chars: Counter
    sounds: Counter

    def by_kind(self) -> dict[str, Counter]:
        return {"words": self.words, "chars": self.chars, "sounds": self.sounds}


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


class TextAnalyzer:
    """Normalises text and extracts search features using one lexicon."""

    def __init__(self, lexicon: SearchLexicon):
        self.lexicon = lexicon
        variants = sorted((v for v in lexicon.replacements if v), key=len, reverse=True)
        self._replace = re.compile("|".join(map(re.escape, variants))) if variants else None
        self._stopwords = lexicon.stopwords
        canonical = sorted({c for c in lexicon.replacements.values() if c})
        self._tokenizer = _tokenizer(tuple(lexicon.words) + tuple(canonical))
        self._sound_terms = self._build_sound_terms()
        self._sound_lengths = sorted({len(k) for k in self._sound_terms}, reverse=True)

    def _build_sound_terms(self) -> dict[tuple[str, ...], str]:
        """Sound → term for the catalog's key terms and their variants, so a homophone typed by
        voice input (底保, 残急证, 雨路计划) becomes the term itself. Only the lexicon's `words`
        take part: sound-alikes of everyday words would rewrite too much."""
        replacements = self.lexicon.replacements
        domain = {replacements.get(w, w) for w in self.lexicon.words}
        terms = {w: replacements.get(w, w) for w in self.lexicon.words}
        for variant, canonical in replacements.items():
            if canonical in domain:
                terms[variant] = canonical
        sounds: dict[tuple[str, ...], str] = {}
        for term, canonical in terms.items():
            if len(term) >= 2 and all(_is_cjk(c) for c in term):
                sounds.setdefault(tuple(_syllable(c) for c in term), canonical)
        return sounds

    def _replace_sound_alikes(self, text: str) -> str:
        # Only whole tokens are replaced, never part of a word: 及申 in 及申请 is not 计生.
        boundaries, offset = {0}, 0
        for token in self._tokenizer.cut(text, HMM=False):
            offset += len(token)
            boundaries.add(offset)
        out: list[str] = []
        i = 0
        while i < len(text):
            for length in self._sound_lengths:
                chunk = text[i : i + length]
                if (
                    len(chunk) == length
                    and i in boundaries
                    and i + length in boundaries
                    and all(_is_cjk(c) for c in chunk)
                ):
                    term = self._sound_terms.get(tuple(_syllable(c) for c in chunk))
                    # A real word is what it says (退役 stays 退役 whatever sounds like it);
                    # only non-words such as 底保 are taken for the term they sound like.
                    if term is not None and (chunk == term or not self._tokenizer.FREQ.get(chunk)):
                        out.append(term)
                        i += length
                        break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def normalize(self, text: str) -> str:
        text = fold_text(text).lower()
        if self._replace:
            text = self._replace.sub(lambda m: self.lexicon.replacements[m.group(0)], text)
        return self._replace_sound_alikes(text)

    def words(self, normalized: str) -> list[str]:
        """Dictionary-only word cut (no HMM guesses), using the lexicon's terms."""
        return list(self._tokenizer.cut(normalized, HMM=False))

    def segments(self, normalized: str) -> list[list[str]]:
        """Runs of content tokens, split wherever punctuation or a filler word stood."""
        runs: list[list[str]] = [[]]
        for token in self._tokenizer.lcut(normalized, HMM=True):
            if not _KEEP.fullmatch(token) or token in self._stopwords:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append(token)
        return [run for run in runs if run]

    def features(self, text: str) -> Features:
        words: Counter = Counter()
        chars: Counter = Counter()
        sounds: Counter = Counter()
        for run in self.segments(self.normalize(text)):
            for token in run:
                words[token] += 1
                if len(token) > 1:
                    # Long compounds also count by their parts (最低生活保障 → 生活, 保障…).
                    for part in self._tokenizer.lcut_for_search(token):
                        if part != token and len(part) > 1 and part not in self._stopwords:
                            words[part] += 0.5
            joined = "".join(run)
            cjk = [c for c in joined if _is_cjk(c)]
            chars.update(a + b for a, b in zip(cjk, cjk[1:]))
            syllables = [_syllable(c) for c in cjk]
            sounds.update(f"{a} {b}" for a, b in zip(syllables, syllables[1:]))
        return Features(words, chars, sounds)


@lru_cache(maxsize=4)
def analyzer_for(lexicon: SearchLexicon) -> TextAnalyzer:
    """One analyzer per lexicon, shared by the search and the checklist."""
    return TextAnalyzer(lexicon)
