"""Which item a service phrase means, read with the message it came in (docs/platform-api.md §Understanding).

The assistant's NLU finds a phrase ("残疾证") in a message ("残疾证搞丢了"); the words around the
phrase are what tell sibling items apart. So the platform reads the whole message first (the
understanding in erma/understanding/service.py) and asks the catalog search
(erma/catalog/search.py) about the phrase alone only when the message as a whole names nothing.
The assistant makes this one call and follows the answer: one item, the close choices the
resident settles with buttons, or nothing.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from erma.catalog.service import get_item, get_search
from erma.understanding.service import understand

CODE_RE = re.compile(r"^MX-\d{3}$", re.IGNORECASE)
# How many ranked items the phrase's search looks at (its decision does not depend on it).
SEARCH_LIMIT = 5


@dataclass(frozen=True)
class Resolved:
    item: str | None = None  # the one item meant
    name: str | None = None
    choices: list[dict] = field(default_factory=list)  # a close call: {code, name, score}, best first
    source: str | None = None  # code | message | phrase: what settled it (None: nothing found)

    def as_dict(self) -> dict:
        return asdict(self)


def resolve(session: Session, text: str | None, phrase: str | None = None) -> Resolved:
    """A service phrase (and the message it came in) → one item, close choices, or nothing.

    An item code ("MX-013", a button's) is that item. A message that is a button payload
    ("/ask_requirements{…}") is not read as words; its phrase still is."""
    phrase = (phrase or "").strip()
    if CODE_RE.match(phrase):
        item = get_item(session, phrase.upper())
        return Resolved(item.code, item.name, source="code") if item else Resolved()
    text = (text or "").strip() or phrase
    if text and not text.startswith("/"):
        meant = understand(session, text)
        if meant.item:
            return Resolved(meant.item, meant.name, source="message")
        if meant.choices:
            return Resolved(choices=[{"code": c.code, "name": c.name, "score": c.score} for c in meant.choices],
                            source="message")
    if phrase and phrase != text:
        search = get_search(session)
        found = search.find(phrase, limit=SEARCH_LIMIT)
        if found.ambiguous and found.choices:
            return Resolved(choices=[{"code": code, "name": search.items[code].name, "score": score}
                                     for code, score in found.choices], source="phrase")
        if found.items:
            code = found.items[0][0]
            return Resolved(code, search.items[code].name, source="phrase")
    return Resolved()
