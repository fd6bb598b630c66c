"""The lookup key of a resident's cases without the case number: a keyed hash of the last six
characters of the applicant's ID number (digits, a final X upper-case). Stored on every case
(`Case.id_last6_hash`, set at intake; migration 0013 filled it for older cases) and computed from
what the resident types (erma/status/service.py find_cases). Six characters alone identify nobody:
a lookup also needs the phone's last four digits or the applicant's name."""
from __future__ import annotations

import re

from erma import pii

LAST6_RE = re.compile(r"^\d{5}[\dX]$")


def normalize_last6(raw: str | None) -> str | None:
    """"12345x" → "12345X"; spaces dropped; None unless six digits with an optional final X."""
    value = re.sub(r"\s+", "", raw or "").upper()
    return value if LAST6_RE.match(value) else None


def id_last6_hash(id_number_or_last6: str) -> str:
    """From a whole (normalised) ID number or its last six characters. Migration 0013 keeps a frozen
    copy of this formula: change both or neither."""
    return pii.keyed_hash("last6:" + id_number_or_last6[-6:].upper())
