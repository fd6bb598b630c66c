"""ID numbers and phones in what residents type never travel or rest in clear.

The gateway calls `protect` on a resident's message before it is stored or sent to Rasa: every
ID number (anything that looks like one: 15 to 18 digits, the last may be X) and every mainland
mobile number is kept encrypted in `pii_references`, scoped to the conversation, and replaced in
the text by a reference such as `〔身份证#K7Q2M〕` / `〔手机#3HX9A〕`. The NLU fills the `id_number` /
`phone` entities from the reference (data/nlu/regexes.yml); the actions send it back, with the
conversation id, for validation and case creation, where `resolve` turns it into the value again —
only for that conversation. Whatever shows a transcript uses `masker`: references (and any clear
value written before references existed, or typed by staff) become masked values.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma import pii
from erma.errors import ValidationFailed
from erma.pii_refs.models import PiiReference

LABELS = {"id_number": "身份证", "phone": "手机"}
KINDS = {label: kind for kind, label in LABELS.items()}
# No 0/O, 1/I/L: a resident reading one out loud cannot confuse them.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 5
REFERENCE_RE = re.compile(r"〔(身份证|手机)#([A-Za-z0-9]{%d})〕" % CODE_LENGTH)

# On the folded text (full-width digits → ASCII). Separators as residents type them: space or dash.
_ID_SPACED = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){16}[ -]?[0-9Xx](?![0-9])")
_ID_LOOSE = re.compile(r"(?<![0-9])[0-9]{14,17}[0-9Xx](?![0-9])")  # 15–18 characters: a legacy or mistyped ID
_PHONE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])")
PATTERNS = (("id_number", _ID_SPACED), ("id_number", _ID_LOOSE), ("phone", _PHONE))


def _fold(text: str) -> str:
    """NFKC per character where it keeps the length, so spans of the result are spans of `text`."""
    out = []
    for char in text:
        folded = unicodedata.normalize("NFKC", char)
        out.append(folded if len(folded) == 1 else char)
    return "".join(out)


def _spans(folded: str) -> list[tuple[int, int, str]]:
    taken: list[tuple[int, int, str]] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(folded):
            if not any(match.start() < end and start < match.end() for start, end, _ in taken):
                taken.append((match.start(), match.end(), kind))
    return sorted(taken)


def _normal(kind: str, raw: str) -> str:
    if kind == "id_number":
        return re.sub(r"[^0-9Xx]", "", raw).upper()
    digits = re.sub(r"\D", "", raw)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def _masked(kind: str, value: str) -> str:
    return pii.mask_id_number(value) if kind == "id_number" else pii.mask_phone(value)


def reference_text(kind: str, code: str) -> str:
    return f"〔{LABELS[kind]}#{code}〕"


def _new_code() -> str:
    # Starts with a letter: an all-digit code ("49367") would read as part of a number.
    return secrets.choice(LETTERS) + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH - 1))


def _existing(session: Session, conversation_id: str, kind: str, value_hash: str) -> PiiReference | None:
    return session.scalar(select(PiiReference).where(PiiReference.conversation_id == conversation_id,
                                                     PiiReference.kind == kind, PiiReference.value_hash == value_hash))


def _reference(session: Session, conversation_id: str, kind: str, value: str) -> PiiReference:
    """The conversation's reference for this value: the same value typed twice gets the same one."""
    value_hash = pii.keyed_hash(f"{kind}:{value}")
    for _ in range(5):
        found = _existing(session, conversation_id, kind, value_hash)
        if found is not None:
            return found
        ref = PiiReference(conversation_id=conversation_id, kind=kind,
                           code=_new_code(),
                           value_enc=pii.encrypt(value), value_hash=value_hash, masked=_masked(kind, value))
        try:
            with session.begin_nested():
                session.add(ref)
            return ref
        except IntegrityError:  # the code was taken, or a concurrent message stored this value first
            continue
    raise RuntimeError("could not store a personal-data reference")


def protect(session: Session, conversation_id: str, text: str) -> str:
    """`text` with every ID number and phone replaced by a reference (stored, flushed, not committed)."""
    spans = _spans(_fold(text))
    if not spans:
        return text
    folded = _fold(text)
    parts, last = [], 0
    for start, end, kind in spans:
        ref = _reference(session, conversation_id, kind, _normal(kind, folded[start:end]))
        parts += [text[last:start], reference_text(ref.kind, ref.code)]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def find(value: str | None) -> tuple[str, str] | None:
    """(kind, code) of the first reference in `value`, or None."""
    match = REFERENCE_RE.search(value or "")
    return (KINDS[match.group(1)], match.group(2).upper()) if match else None


def _lookup(session: Session, conversation_id: str | None, value: str, field: str) -> PiiReference:
    kind, code = find(value)
    ref = None
    if conversation_id:
        ref = session.scalar(select(PiiReference).where(PiiReference.conversation_id == conversation_id,
                                                        PiiReference.code == code, PiiReference.kind == kind))
    if ref is None:
        raise ValidationFailed("reference_unknown", "没有找到您发的这个号码，请再发一遍", field=field)
    return ref


def resolve(session: Session, conversation_id: str | None, value: str, field: str) -> str:
    """The clear value a reference stands for in this conversation; a plain value comes back as it is."""
    if find(value) is None:
        return value
    return pii.decrypt(_lookup(session, conversation_id, value, field).value_enc)


def canonical(session: Session, conversation_id: str | None, value: str, field: str) -> tuple[str, str]:
    """(the reference as the platform writes it, its masked value) — for answering the assistant."""
    ref = _lookup(session, conversation_id, value, field)
    return reference_text(ref.kind, ref.code), ref.masked


def mask_clear(text: str) -> str:
    """Masks ID numbers and phones written in clear (old transcript rows, staff replies)."""
    folded = _fold(text)
    spans = _spans(folded)
    for start, end, kind in reversed(spans):
        text = text[:start] + _masked(kind, _normal(kind, folded[start:end])) + text[end:]
    return text


def masker(session: Session, conversation_id: str) -> Callable[[str], str]:
    """A function showing a text of this conversation with every reference and clear value masked."""
    masks: dict[tuple[str, str], str] | None = None

    def mask(text: str) -> str:
        nonlocal masks
        if not text:
            return text
        if "〔" in text:
            if masks is None:
                masks = {(r.kind, r.code): r.masked for r in session.scalars(
                    select(PiiReference).where(PiiReference.conversation_id == conversation_id))}
            text = REFERENCE_RE.sub(lambda m: masks.get((KINDS[m.group(1)], m.group(2).upper()), m.group(0)), text)
        return mask_clear(text)

    return mask
