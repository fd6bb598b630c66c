"""Catalog queries and the start-up sync from catalog/services.yaml into the database."""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from erma.catalog.models import ServiceItem
from erma.catalog.schema import ServiceItemSpec
from erma.catalog.search import CatalogSearch
from erma.db import utcnow
from erma.errors import NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncResult:
    added: int
    updated: int
    unchanged: int
    removed: int
    kept: tuple[str, ...]  # removed from the file but still referred to by cases


def sync_catalog(session: Session, items: Sequence[ServiceItemSpec], keep: frozenset[str] = frozenset()) -> SyncResult:
    """Make the table match the validated file: upsert every item and drop items no longer in
    the file. Items in `keep` (edited by a county admin in the database, erma/admin/audit.py) stay as
    they are. Nothing is committed here — the caller commits once, so start-up loads all of the
    county data or none of it."""
    existing = {row.code: row for row in session.scalars(select(ServiceItem))}
    added = updated = unchanged = 0
    now = utcnow()
    for item in items:
        data = item.model_dump(mode="json")
        row = existing.pop(item.code, None)
        if row is not None and item.code in keep:
            unchanged += 1
            continue
        if row is None:
            row = ServiceItem(code=item.code)
            session.add(row)
            added += 1
        elif row.data == data:
            unchanged += 1
            continue
        else:
            updated += 1
        row.name, row.category, row.department = item.name, item.category, item.department
        row.rongque_listed = item.rongque_listed
        row.data = data
        row.updated_at = now  # the search index is rebuilt when this moves
    session.flush()
    removed, kept = 0, []
    for code, row in sorted(existing.items()):
        try:
            with session.begin_nested():
                session.delete(row)
            removed += 1
        except IntegrityError:
            # Cases still refer to it; it stays so they keep their item.
            kept.append(code)
    if kept:
        log.warning("catalog items removed from the file but kept for their cases: %s", ", ".join(kept))
    return SyncResult(added, updated, unchanged, removed, tuple(kept))


def list_items(session: Session) -> list[ServiceItemSpec]:
    return [ServiceItemSpec.model_validate(r.data) for r in session.scalars(select(ServiceItem).order_by(ServiceItem.code))]


def get_item(session: Session, code: str) -> ServiceItemSpec | None:
    """The item with this code (case-insensitive), or None."""
    row = session.get(ServiceItem, (code or "").strip().upper())
    return ServiceItemSpec.model_validate(row.data) if row else None


def require_item(session: Session, code: str) -> ServiceItemSpec:
    """The item with this code, or NotFound with a message for the resident."""
    item = get_item(session, code)
    if item is None:
        shown = (code or "").strip().upper() or "（空）"
        raise NotFound("service_not_found", f"没有找到编号为 {shown} 的办事事项，请核对编号。", field="code")
    return item


def catalog_version(session: Session) -> str:
    """Changes whenever the catalog in this database changes: the search index follows it."""
    count, latest = session.execute(select(func.count(ServiceItem.code), func.max(ServiceItem.updated_at))).one()
    return f"{session.get_bind().url}|{count}|{latest}"


def catalog_tag(session: Session) -> str:
    """`catalog_version` as a short opaque tag for clients (the assistant drops its copy of the items
    when it changes); it never shows the database's address."""
    return hashlib.sha256(catalog_version(session).encode()).hexdigest()[:16]


_search_lock = threading.Lock()
_search_cache: dict[str, object] = {}


def get_search(session: Session, version: str | None = None) -> CatalogSearch:
    """The search index for the catalog in the database, rebuilt only when the catalog changes.
    `version`: the catalog_version the caller has just read in this session (one query, not two)."""
    version = version or catalog_version(session)
    with _search_lock:  # one build at a time; the others wait for it rather than build again
        if _search_cache.get("version") != version:
            _search_cache["search"] = CatalogSearch(list_items(session))
            _search_cache["version"] = version
        return _search_cache["search"]  # type: ignore[return-value]
