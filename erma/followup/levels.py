"""好差评 levels: the one vocabulary and the one reading of a resident's words (docs/platform-api.md §Ratings).

The assistant keeps no copy: it shows the levels it gets from `GET /api/v1/ratings/levels` and sends
what the resident said to `POST /api/v1/cases/{case_no}/rating`, which reads it here. Levels come in
words ("很满意", "还行", "差评") or numbers ("5星", "打4分", "五星", out of ten: "8分").
"""
from __future__ import annotations

import math
import re

from erma.errors import ValidationFailed
from erma.text_normal import fold_text

# The five national levels (GB/T 39735-2020), best first; 1 and 2 are 差评.
LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
BAD_LEVELS = {1, 2}
# Longest first: 非常不满意 before 不满意 before 满意.
LEVEL_WORDS = sorted(((text, level) for level, text in LEVELS.items()), key=lambda p: -len(p[0]))
INVALID_MESSAGE = "请从 " + "、".join(LEVELS.values()) + " 中选一个（也可以打1到5分）"

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_SCORE_RE = re.compile(r"(10|[0-9]|[零一二两俩三四五六七八九十])\s*(?:颗|个)?\s*(?:星|分|颗星)")
_BARE_NUMBER_RE = re.compile(r"^\s*(10|[0-9]|[一二两三四五六七八九十])\s*$")
_INTENSIFIERS = ("非常", "很", "特别", "十分", "太", "极", "相当", "超级", "好", "真")
_STRONG = ("非常", "很", "特别", "太", "极", "十分")
_MILD_NO = ("不太满意", "不咋满意", "不怎么满意", "不大满意")
_SO_SO = ("还可以", "还行", "一般", "凑合", "马马虎虎", "过得去", "将就")
_PRAISE = ("巴适", "安逸", "点赞", "太好了", "满分")


def _from_score(score: int) -> int | None:
    if 1 <= score <= 5:
        return score
    if 6 <= score <= 10:  # someone rating out of ten
        return min(5, math.ceil(score / 2))
    return None


def _from_words(text: str) -> int | None:
    if any(w in text for w in _MILD_NO):
        return 2
    if "不满意" in text:
        return 1 if any(w in text for w in _STRONG) else 2
    if "差评" in text:
        return 2
    if "基本" in text or any(w in text for w in _SO_SO):
        return 3
    if "满意" in text:
        return 5 if any(w in text for w in _INTENSIFIERS) else 4
    if "好评" in text:
        return 5 if any(w in text for w in ("五星", "5星", "超级", "大大的")) else 4
    if any(w in text for w in _PRAISE):
        return 5
    return None


def read_level(raw) -> int | None:
    """5 / "5" / "5星" / "打4分" / "很满意" / "还行吧" / "非常不满意" → level 1..5; None if it names none.
    A JSON number is the level itself (1..5); words are read the way residents say them."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if raw in LEVELS else None
    text = fold_text(str(raw or ""))
    if not text:
        return None
    match = _SCORE_RE.search(text) or _BARE_NUMBER_RE.match(text)
    if match:
        token = match.group(1)
        score = int(token) if token.isdigit() else _CN_DIGITS.get(token)
        if score is not None:
            return _from_score(score)
    return _from_words(text)


def parse_level(*candidates) -> int:
    """The level the first readable candidate names (the level given, then the resident's whole
    message); 422 `rating_level_invalid` in Chinese when none names one."""
    for raw in candidates:
        level = read_level(raw)
        if level is not None:
            return level
    raise ValidationFailed("rating_level_invalid", INVALID_MESSAGE, field="level")


def levels_view() -> list[dict]:
    """The levels as the assistant shows them (best first): the level, its words, whether it is 差评."""
    return [{"level": level, "text": text, "bad": level in BAD_LEVELS}
            for level, text in sorted(LEVELS.items(), reverse=True)]
