"""Two linear classifiers over what residents type: which item (or none), and what they want.

Features (scikit-learn): character 1–3-grams of the normalised text (dialect and sound-alike
spellings unified by the catalog's search lexicon, Traditional → Simplified), character 3–6-grams
of its pinyin (so "dibao" and 底保 meet 低保), and jieba words. The behaviour model also sees the
raw characters, because the particles the lexicon drops (没, 了, 吗) tell a question from a status
request. Linear SVMs: trained on the 2-core machine in seconds, scores comparable across items.
A trained pair is kept on disk under its corpus fingerprint, so restarts do not retrain.
"""
from __future__ import annotations

import logging
import math
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from pypinyin import lazy_pinyin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from erma.catalog.lexicon import cached_lexicon
from erma.catalog.text_features import TextAnalyzer, analyzer_for
from erma.settings import ROOT
from erma.understanding.corpus import NONE, Corpus

log = logging.getLogger(__name__)
CACHE_DIR = ROOT / "var" / "understanding"
MODEL_VERSION = "5"


@lru_cache(maxsize=1)
def _analyzer() -> TextAnalyzer:
    return analyzer_for(cached_lexicon())


# One message is read by seven vectorizers and the decision: each transform once per text.
@lru_cache(maxsize=512)
def _normal(text: str) -> str:
    return _analyzer().normalize(text)


@lru_cache(maxsize=512)
def _sounds(text: str) -> str:
    # Spaces dropped: "di bao", "dibao" and 低保 all read "dibao".
    return "".join("".join(lazy_pinyin(_normal(text))).split())


@lru_cache(maxsize=512)
def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _analyzer().words(_normal(text)) if w.strip())


class _Text:
    """Picklable text transforms bound to the catalog's lexicon (module functions, cached)."""

    @property
    def analyzer(self) -> TextAnalyzer:
        return _analyzer()

    def normal(self, text: str) -> str:
        return _normal(text)

    def sounds(self, text: str) -> str:
        return _sounds(text)

    def words(self, text: str) -> list[str]:
        return list(_words(text))

    def raw(self, text: str) -> str:
        return text.lower()

    def content_words(self, text: str) -> list[str]:
        """Words beyond particles, request words and place names ("我要办", "要带啥子" have none)."""
        stop = self.analyzer.lexicon.stopwords
        return [w for w in _words(text) if w not in stop and any(c.isalnum() for c in w)]


_TEXT = _Text()


def _features(text: _Text, raw: bool) -> FeatureUnion:
    parts = [
        ("chars", TfidfVectorizer(preprocessor=text.normal, analyzer="char", ngram_range=(1, 3), sublinear_tf=True)),
        ("sounds", TfidfVectorizer(preprocessor=text.sounds, analyzer="char", ngram_range=(3, 6), sublinear_tf=True)),
        ("words", TfidfVectorizer(analyzer=text.words, sublinear_tf=True)),
    ]
    if raw:
        parts.append(("raw", TfidfVectorizer(preprocessor=text.raw, analyzer="char", ngram_range=(1, 3),
                                              sublinear_tf=True)))
    return FeatureUnion(parts)


def _pipeline(text: _Text, raw: bool) -> Pipeline:
    return Pipeline([("features", _features(text, raw)), ("svm", LinearSVC(C=0.5, random_state=0))])


@dataclass
class Ranked:
    labels: list[str]  # best first
    scores: list[float]  # the SVM's decision values, same order


class Models:
    """The item model and the behaviour model, trained together from one corpus."""

    def __init__(self, item: Pipeline, behaviour: Pipeline, conversation_words: frozenset[str]):
        self.item = item
        self.behaviour = behaviour
        # Words of messages about no item in particular (greetings, "在哪点办", "要钱不"): saying
        # only these names nothing we could be asked about.
        self.conversation_words = conversation_words

    @classmethod
    def train(cls, corpus: Corpus) -> "Models":
        text = _TEXT
        item = _pipeline(text, raw=False).fit(list(corpus.item_texts), list(corpus.item_labels))
        behaviour = _pipeline(text, raw=True).fit(list(corpus.behaviour_texts), list(corpus.behaviour_labels))
        item_words = {w for t, label in zip(corpus.item_texts, corpus.item_labels) if label != NONE
                      for w in text.content_words(t)}
        conversation = frozenset(w for t, b in zip(corpus.behaviour_texts, corpus.behaviour_labels) if b == "other"
                                 for w in text.content_words(t)) - item_words
        return cls(item, behaviour, conversation)

    @staticmethod
    def _rank(model: Pipeline, text: str) -> Ranked:
        scores = decision_values(model, text)
        order = np.argsort(-scores)
        classes = model.classes_
        return Ranked([str(classes[i]) for i in order], [float(scores[i]) for i in order])

    @property
    def text(self) -> "_Text":
        return _TEXT

    def rank_items(self, text: str) -> Ranked:
        return self._rank(self.item, text)

    def rank_behaviours(self, text: str) -> Ranked:
        return self._rank(self.behaviour, text)


@dataclass(frozen=True)
class _Block:
    """One fitted TfidfVectorizer of a model's feature union, as decision_values reads it."""
    analyze: Callable[[str], list]
    vocabulary: dict
    idf: np.ndarray
    sublinear: bool
    offset: int  # where its columns start in the union's row


@dataclass(frozen=True)
class _Linear:
    blocks: tuple[_Block, ...]
    width: int
    coef_t: np.ndarray
    intercept: np.ndarray


# Per fitted pipeline (weakly held: a retrained model's entry goes with it).
_linear: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_linear_lock = threading.Lock()
_UNREAD = object()


def _as_linear(model: Pipeline) -> _Linear | None:
    """The pipeline's pieces, read once; None when a vectorizer is set up in a way `_row` does not
    repeat (then decision_values asks scikit-learn)."""
    linear = _linear.get(model, _UNREAD)
    if linear is not _UNREAD:
        return linear
    with _linear_lock:
        if model in _linear:
            return _linear[model]
        features, svm = model.named_steps["features"], model.named_steps["svm"]
        blocks, offset, plain = [], 0, True
        for _, vectorizer in features.transformer_list:
            plain = plain and (isinstance(vectorizer, TfidfVectorizer) and not vectorizer.binary
                               and vectorizer.use_idf and vectorizer.norm == "l2"
                               and np.dtype(vectorizer.dtype) == np.float64)
            if not plain:
                break
            blocks.append(_Block(vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_,
                                 vectorizer.sublinear_tf, offset))
            offset += len(vectorizer.vocabulary_)
        plain = plain and features.transformer_weights is None and svm.coef_.ndim == 2
        linear = _Linear(tuple(blocks), offset, svm.coef_.T, svm.intercept_) if plain else None
        _linear[model] = linear
        return linear


def _row(linear: _Linear, text: str) -> sp.csr_array:
    """The union's feature row for `text`, computed as TfidfVectorizer.transform does it, step by
    step and in the same order (counts, sorted columns, 1 + log tf, × idf, l2 norm summed column by
    column), so every number is the same to the last bit."""
    data: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    for block in linear.blocks:
        counts: dict[int, int] = {}
        vocabulary = block.vocabulary
        for feature in block.analyze(text):
            index = vocabulary.get(feature)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            continue
        indices = np.array(sorted(counts), dtype=np.int32)
        values = np.array([counts[i] for i in indices.tolist()], dtype=np.float64)
        if block.sublinear:
            np.log(values, values)
            values += 1.0
        values *= block.idf[indices]
        total = 0.0
        for value in values.tolist():  # scikit-learn's inplace_csr_row_normalize_l2, in order
            total += value * value
        if total != 0.0:
            values /= math.sqrt(total)
        data.append(values)
        columns.append(indices + block.offset)
    if not data:
        return sp.csr_array((1, linear.width), dtype=np.float64)
    values = np.concatenate(data)
    return sp.csr_array((values, np.concatenate(columns), np.array([0, len(values)], dtype=np.int32)),
                        shape=(1, linear.width))


def decision_values(model: Pipeline, text: str) -> np.ndarray:
    """`model.decision_function([text])[0]`, the same numbers computed the same way (each vectorizer of
    the union, side by side, then the SVM's sparse product) without the per-call overhead that was most
    of a reading's time for one short message: the union's joblib dispatch, scikit-learn's input and
    parameter checks and the sparse matrices built and stacked per vectorizer (the input is one string
    we pass ourselves; the fitted model is ours)."""
    linear = _as_linear(model)
    if linear is None:
        features, svm = model.named_steps["features"], model.named_steps["svm"]
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            row = sp.hstack([vectorizer.transform([text]) for _, vectorizer in features.transformer_list],
                            format="csr")
            return np.asarray(svm.decision_function(row))[0]
    return np.asarray(_row(linear, text) @ linear.coef_t + linear.intercept)[0]


_lock = threading.Lock()
_loaded: dict[str, Models] = {}


def models_for(corpus: Corpus, cache_dir: Path = CACHE_DIR) -> Models:
    """The models for this corpus: from memory, from disk, or trained now (seconds) and saved."""
    key = f"{MODEL_VERSION}-{corpus.fingerprint()}"
    with _lock:
        if key in _loaded:
            return _loaded[key]
        path = cache_dir / f"models-{key}.joblib"
        models: Models | None = None
        if path.exists():
            try:
                models = joblib.load(path)
            except Exception:  # a file from another library version: train again
                log.warning("understanding models at %s could not be loaded; training again", path)
        if models is None:
            models = Models.train(corpus)
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                joblib.dump(models, tmp)
                tmp.replace(path)
            except OSError:
                log.warning("understanding models could not be saved to %s", path)
        _loaded.clear()  # one corpus at a time
        _loaded[key] = models
        return models
