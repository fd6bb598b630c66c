"""The platform's one way of folding what residents type before it is compared with names, aliases
and words: full-width → half-width (NFKC), Traditional → Simplified (OpenCC), trimmed. Not the NLU's
normaliser (erma_nlu.text_normalization.normalize_text), which keeps the length so entity spans stay
valid and lower-cases letters; that one runs inside Rasa."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from opencc import OpenCC


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def fold_text(text: str) -> str:
    """Full-width → half-width (NFKC), Traditional → Simplified, trimmed."""
    return _t2s().convert(unicodedata.normalize("NFKC", text or "")).strip()
