"""Resident ID numbers (居民身份证号码, GB 11643-1999): normalise and validate.

Only the check digit and birth date are checked. The address code is deliberately not
looked up: codes of abolished or renamed counties stay valid for life (domain-notes §4.1),
so python-stdnum's full validate(), which checks the place, is not used.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum.cn import ric

from erma.errors import ValidationFailed
from erma.settings import get_settings

FIELD = "id_number"
EARLIEST_BIRTH_YEAR = 1900

# Spaces and every dash a phone keyboard or voice input may produce.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_]+")
_ID_18 = re.compile(r"^\d{17}[\dX]$")


def normalize_id_number(raw: str) -> str:
    """Strip separators, fold full-width characters to half-width, upper-case the x."""
    text = unicodedata.normalize("NFKC", raw or "")
    return _SEPARATORS.sub("", text).upper()


def _china_today() -> date:
    # The server may run on UTC; a birth date is judged against the county's calendar day.
    try:
        return datetime.now(ZoneInfo(get_settings().erma_timezone)).date()
    except ZoneInfoNotFoundError:
        return date.today()


def _fail(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(code, message, field=FIELD)


def _parse_birth_date(number18: str) -> date:
    try:
        return date(int(number18[6:10]), int(number18[10:12]), int(number18[12:14]))
    except ValueError:
        raise _fail(
            "id_number_birth_date",
            "身份证号码中的出生日期（第7至14位）不是有效日期，请核对后重新输入",
        ) from None


def validate_id_number(raw: str, today: date | None = None) -> str:
    """Return the normalised 18-character number, or raise ValidationFailed.

    The birth date is checked before the check digit: when a typo lands in the date part,
    pointing at the date tells the resident where to look.
    """
    number = normalize_id_number(raw)
    if not number:
        raise _fail("id_number_format", "请输入身份证号码（18位）")
    if len(number) == 15 and number.isdigit():
        raise _fail(
            "id_number_legacy",
            "一代身份证已停用，请提供18位号码（新身份证上的号码）",
        )
    if len(number) != 18:
        raise _fail(
            "id_number_format",
            f"身份证号码应为18位，您输入的是{len(number)}位，请核对后重新输入",
        )
    if not _ID_18.match(number):
        raise _fail(
            "id_number_format",
            "身份证号码只能是数字，最后一位可以是X，请核对后重新输入",
        )

    born = _parse_birth_date(number)
    if born.year < EARLIEST_BIRTH_YEAR:
        raise _fail(
            "id_number_birth_date",
            "身份证号码中的出生日期早于1900年，请核对后重新输入",
        )
    if born > (today or _china_today()):
        raise _fail(
            "id_number_birth_date",
            "身份证号码中的出生日期晚于今天，请核对后重新输入",
        )

    if number[-1] != ric.calc_check_digit(number):
        raise _fail(
            "id_number_checksum",
            "身份证号码最后一位校验码不对，请核对后重新输入",
        )
    return number
