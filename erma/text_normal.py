"""Text normalisation shared by every place that reads what residents type."""
from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def normalize_text(text: str) -> str:
    """Full-width → half-width (NFKC), Traditional → Simplified, trimmed."""
    return _t2s().convert(unicodedata.normalize("NFKC", text or "")).strip()
