"""Reading and writing the catalog in the database."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from erma.catalog.models import ServiceItem
from erma.catalog.schema import ServiceItemSpec


def sync_catalog(session: Session, items: list[ServiceItemSpec]) -> None:
    """Upsert every item (the caller commits once: all or nothing)."""
    for item in items:
        row = session.get(ServiceItem, item.code) or ServiceItem(code=item.code)
        row.name, row.category, row.department = item.name, item.category, item.department
        row.rongque_listed = item.rongque_listed
        row.data = item.model_dump(mode="json")
        session.add(row)
    session.flush()


def _spec(row: ServiceItem) -> ServiceItemSpec:
    return ServiceItemSpec.model_validate(row.data)


def get_item(session: Session, code: str) -> ServiceItemSpec | None:
    row = session.get(ServiceItem, code)
    return _spec(row) if row else None


def list_items(session: Session) -> list[ServiceItemSpec]:
    return [_spec(r) for r in session.scalars(select(ServiceItem).order_by(ServiceItem.code))]


def catalog_version(session: Session) -> str:
    """Changes whenever an item changes: search indexes are rebuilt when it does."""
    count, latest = session.execute(select(func.count(ServiceItem.code), func.max(ServiceItem.updated_at))).one()
    return f"{count}:{latest}"
