"""Canonical forms for entity values that actions and the platform compare or look up.

Pure functions (no Rasa import) so actions and tests can use them too. Rating levels are not
here: the platform owns the 好差评 vocabulary and reads the resident's words itself
(erma/followup/levels.py, ``GET /api/v1/ratings/levels``).
"""

from __future__ import annotations

import re
from typing import Optional


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
