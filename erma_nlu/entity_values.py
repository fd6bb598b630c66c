"""Canonical forms for entity values that actions and the platform compare or look up.

Pure functions (no Rasa import) so actions and tests can use them too.
"""

from __future__ import annotations

import math
import re
from typing import Optional

RATING_LEVELS = ("非常不满意", "不满意", "基本满意", "满意", "非常满意")  # index + 1 = stars

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_SCORE_RE = re.compile(r"(10|[0-9]|[零一二两俩三四五六七八九十])\s*(?:颗|个)?\s*(?:星|分|颗星)")
_BARE_NUMBER_RE = re.compile(r"^\s*(10|[0-9]|[一二两三四五六七八九十])\s*$")
_INTENSIFIERS = ("非常", "很", "特别", "十分", "太", "极", "相当", "超级", "好", "真")


def canonical_case_no(raw: str) -> Optional[str]:
    """``em20261126 0007`` / ``EM-20261126-0007`` / ``202611260007`` → ``EM-20261126-0007``."""
    compact = re.sub(r"[^0-9a-zA-Z]", "", raw or "").upper()
    if compact.startswith("EM"):
        compact = compact[2:]
    if re.fullmatch(r"\d{12}", compact):
        return f"EM-{compact[:8]}-{compact[8:]}"
    return None


# The platform's gateway replaces ID numbers and phones in residents' messages by a reference
# (erma/pii_refs): ``〔身份证#K7Q2M〕`` / ``〔手机#3HX9A〕``. The NLU sees it lower-cased.
_REFERENCE_RE = re.compile(r"〔(?:身份证|手机)#[0-9a-zA-Z]{5}〕")


def canonical_reference(raw: str) -> Optional[str]:
    """A reference as the platform writes it (upper-case code), or ``None`` if ``raw`` holds none."""
    match = _REFERENCE_RE.search(raw or "")
    return match.group(0).upper() if match else None


def canonical_id_number(raw: str) -> str:
    """Drop spaces/dashes, upper-case the check character ``x``; a reference stays a reference."""
    return canonical_reference(raw) or re.sub(r"[\s\-]", "", raw or "").upper()


def canonical_phone(raw: str) -> str:
    reference = canonical_reference(raw)
    if reference:
        return reference
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def canonical_last4(raw: str) -> str:
    return re.sub(r"\s", "", raw or "").upper()


def _number(token: str) -> Optional[int]:
    if token.isdigit():
        return int(token)
    return _CN_DIGITS.get(token)


def _level_from_score(score: int) -> Optional[str]:
    if 1 <= score <= 5:
        return RATING_LEVELS[score - 1]
    if 6 <= score <= 10:  # someone rating out of ten
        return RATING_LEVELS[min(5, math.ceil(score / 2)) - 1]
    return None


def canonical_rating_level(raw: str) -> Optional[str]:
    """Map a spoken rating to one of the five 好差评 levels, or ``None`` if it is not one."""
    text = (raw or "").strip()
    if not text:
        return None
    match = _SCORE_RE.search(text) or _BARE_NUMBER_RE.match(text)
    if match:
        score = _number(match.group(1))
        if score is not None:
            return _level_from_score(score)
    if any(w in text for w in ("不太满意", "不咋满意", "不怎么满意", "不大满意")):
        return "不满意"
    if "不满意" in text:
        return "非常不满意" if any(w in text for w in ("非常", "很", "特别", "太", "极", "十分")) else "不满意"
    if "差评" in text:
        return "不满意"
    if "基本" in text or any(w in text for w in ("还可以", "还行", "一般", "凑合", "马马虎虎", "过得去", "将就")):
        return "基本满意"
    if "满意" in text:
        return "非常满意" if any(w in text for w in _INTENSIFIERS) else "满意"
    if "好评" in text:
        return "非常满意" if any(w in text for w in ("五星", "5星", "超级", "大大的")) else "满意"
    if any(w in text for w in ("巴适", "安逸", "点赞", "太好了", "满分")):
        return "非常满意"
    return None
