"""The tables cleaned after each test come from the metadata: every table but the reference ones the
county-data load writes, so a table added later is cleaned without anyone listing it."""
from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, func, select

from erma.db import get_engine
from erma.models_registry import metadata
from tests.platform.conftest import clean_volatile, volatile_tables


def test_the_reference_tables_are_the_ones_the_county_data_load_writes(reference_tables):
    assert reference_tables == {"service_items", "towns", "town_aliases", "villages", "intake_points",
                                "staff", "duty_rota"}
    assert set(volatile_tables(reference_tables)) == set(metadata.tables) - reference_tables


def test_a_newly_added_table_is_cleaned_after_each_test(db, reference_tables):
    with_new = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(with_new)
    new = Table("probe_added_later", with_new, Column("id", Integer, primary_key=True))
    assert "probe_added_later" in volatile_tables(reference_tables, with_new)

    new.create(get_engine())
    try:
        with db() as s, s.begin():
            s.execute(new.insert().values(id=1))
        with db() as s, s.begin():
            clean_volatile(s, reference_tables, with_new)
        with db() as s:
            assert s.scalar(select(func.count()).select_from(new)) == 0
    finally:
        new.drop(get_engine())
