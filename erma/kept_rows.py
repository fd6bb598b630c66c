"""Reference rows kept in the session that loaded them.

SQLAlchemy's identity map holds a row only while something refers to it, so a row read by key and
dropped by its first reader (a catalog item turned into its spec, a town's name read) was read again
by the next: opening a case read its catalog item 7 times and its town 3 times. Rows of the models
named here stay referred to by their session (`session.info`) until it ends: a request's or a unit of
work's session is short, and these tables are small."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import object_session

_KEPT = "erma_kept_rows"


def keep_loaded(model: type) -> None:
    """Rows of `model` stay in the session that loaded them. Only for small tables read by key, never
    for tables a session may stream through (cases, events)."""
    event.listen(model, "load", _keep)


def _keep(row: object, _context) -> None:  # noqa: ANN001 - SQLAlchemy's QueryContext, or None (a merge)
    session = object_session(row)
    if session is not None:
        session.info.setdefault(_KEPT, []).append(row)
