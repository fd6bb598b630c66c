"""Syncing the catalog file into the database, reading it back, and the cached search index."""
from __future__ import annotations

import pytest

from erma.catalog.models import ServiceItem
from erma.catalog.service import catalog_version, get_item, get_search, list_items, require_item, sync_catalog
from erma.errors import NotFound


def test_sync_loads_every_item_once_and_is_repeatable(db_session, catalog_items):
    first = sync_catalog(db_session, catalog_items)
    db_session.commit()
    assert (first.added, first.updated, first.removed) == (109, 0, 0)
    again = sync_catalog(db_session, catalog_items)
    db_session.commit()
    assert (again.added, again.updated, again.unchanged) == (0, 0, 109)
    items = list_items(db_session)
    assert items == catalog_items
    assert sum(i.rongque_listed for i in items) == 22
    row = db_session.get(ServiceItem, "MX-013")
    assert row.rongque_listed and row.name == "高龄津贴（高龄老人生活补贴）申请" and row.data["code"] == "MX-013"


def test_an_edited_item_is_updated_and_a_removed_one_goes(db_session, catalog_items):
    sync_catalog(db_session, catalog_items)
    db_session.commit()
    before = catalog_version(db_session)
    edited = catalog_items[0].model_copy(update={"guide": catalog_items[0].guide + "\n咨询电话：0837-0000000"})
    result = sync_catalog(db_session, [edited, *catalog_items[1:108]])
    db_session.commit()
    assert (result.updated, result.removed) == (1, 1)
    assert get_item(db_session, "MX-001").guide.endswith("0837-0000000")
    assert get_item(db_session, "MX-109") is None
    assert catalog_version(db_session) != before


def test_sync_is_one_transaction_left_to_the_caller(db_sessionmaker, catalog_items):
    with db_sessionmaker() as session:
        sync_catalog(session, catalog_items)
        session.rollback()
    with db_sessionmaker() as session:
        assert list_items(session) == []


def test_items_are_found_by_code_in_any_case(db_session, catalog_items):
    sync_catalog(db_session, catalog_items)
    db_session.commit()
    assert get_item(db_session, " mx-013 ").code == "MX-013"
    assert get_item(db_session, "MX-999") is None
    with pytest.raises(NotFound) as caught:
        require_item(db_session, "MX-999")
    assert caught.value.message == "没有找到编号为 MX-999 的办事事项，请核对编号。"


def test_the_search_index_is_built_once_per_catalog_version(db_session, catalog_items):
    sync_catalog(db_session, catalog_items)
    db_session.commit()
    first = get_search(db_session)
    assert get_search(db_session) is first
    assert first.search("底保")[0][0] == "MX-001"
    sync_catalog(db_session, catalog_items[:-1])
    db_session.commit()
    rebuilt = get_search(db_session)
    assert rebuilt is not first and "MX-109" not in rebuilt.items
