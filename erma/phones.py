"""Mainland mobile numbers: the contact every case needs for pushes and status lookups.

phonenumbers decides what is a valid CN mobile (its prefix tables track new ranges);
this module only cleans what residents type and words the refusals.
"""
from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from erma.errors import ValidationFailed

FIELD = "phone"
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

# Spaces, dashes, dots and brackets that people put around area codes: "(0837) 622-1234".
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_.()（）]+")
# A local landline typed without its area code: 7–8 digits, never starting with 0 or 1.
_BARE_LANDLINE = re.compile(r"^[2-9]\d{6,7}$")

MSG_INVALID = "手机号码格式不对，请输入11位手机号码"
MSG_LANDLINE = "这是座机号码，请留一个11位手机号码，方便接收办理进度通知"
MSG_FOREIGN = "目前只支持中国大陆手机号码，请输入11位手机号码"


def _fail(code: str, message: str) -> ValidationFailed:
    return ValidationFailed(code, message, field=FIELD)


def normalize_phone(raw: str) -> str:
    """Fold full-width characters and drop separators; keeps a leading '+'."""
    text = unicodedata.normalize("NFKC", raw or "")
    return _SEPARATORS.sub("", text)


def validate_mobile(raw: str) -> str:
    """Return the 11-digit mainland mobile number, or raise ValidationFailed."""
    text = normalize_phone(raw)
    if not text:
        raise _fail("phone_invalid", "请输入11位手机号码")
    if not re.fullmatch(r"\+?\d+", text):
        raise _fail("phone_invalid", MSG_INVALID)
    if _BARE_LANDLINE.match(text):
        raise _fail("phone_landline", MSG_LANDLINE)
    try:
        # Region CN lets phonenumbers strip +86, 86, 0086 and the trunk 0 of area codes.
        parsed = phonenumbers.parse(text, "CN")
    except NumberParseException:
        raise _fail("phone_invalid", MSG_INVALID) from None
    if parsed.country_code != 86:
        raise _fail("phone_invalid", MSG_FOREIGN)
    if not phonenumbers.is_valid_number(parsed):
        raise _fail("phone_invalid", MSG_INVALID)
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.FIXED_LINE:
        raise _fail("phone_landline", MSG_LANDLINE)
    national = str(parsed.national_number)
    if kind not in _MOBILE_TYPES or len(national) != 11:
        raise _fail("phone_invalid", MSG_INVALID)
    return national
