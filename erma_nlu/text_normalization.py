"""Length-preserving text normalisation for resident messages.

Residents type on every kind of phone: Traditional characters (some input methods, relatives in
Taiwan/HK), full-width digits and letters (``５１３２２３…``), ideographic spaces, upper-case
``EM-`` case numbers.  Before NLU sees a message we fold all of that to one form:

* Traditional → Simplified Chinese (OpenCC ``t2s``),
* NFKC compatibility folding (full-width → half-width digits, letters, ``，`` → ``,``, ``　`` → `` ``),
* ASCII letters to lower case.

Every step is applied so that **the output has exactly the same length as the input** and
character *i* of the output comes from character *i* of the input.  Entity spans found on the
normalised text (``start``/``end``) are therefore valid spans of the original message too.
Characters whose NFKC form is longer than one character (``…`` → ``...``, ``㎡`` → ``m2``) are
kept as they are.

Messages starting with ``/`` (intent payloads such as ``/inform{"town":"凤仪镇"}`` sent by
buttons) are returned unchanged.
"""

from __future__ import annotations

import functools
import unicodedata

INTENT_PAYLOAD_PREFIX = "/"


@functools.lru_cache(maxsize=1)
def _t2s_converter():
    import opencc  # opencc-python-reimplemented

    return opencc.OpenCC("t2s")


def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) != 1:
        return char
    if "A" <= folded <= "Z":
        return folded.lower()
    return folded


def to_simplified(text: str) -> str:
    """Traditional → Simplified, guaranteed to keep the length (falls back per character)."""
    converter = _t2s_converter()
    converted = converter.convert(text)
    if len(converted) == len(text):
        return converted
    chars = []
    for char in text:
        one = converter.convert(char)
        chars.append(one if len(one) == 1 else char)
    return "".join(chars)


def normalize_text(text: str) -> str:
    """Return the normalised form of ``text`` with ``len(result) == len(text)``."""
    if not text or text.startswith(INTENT_PAYLOAD_PREFIX):
        return text
    if text.isascii():
        # Fast path: only upper-case letters can change.
        return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)
    simplified = to_simplified(text)
    return "".join(_fold_char(c) for c in simplified)
