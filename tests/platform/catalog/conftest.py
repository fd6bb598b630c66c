"""Fixtures for the catalog tests: the real catalog file, its search index, a scratch database.

Search tests build the index straight from the YAML (no database); the sync tests use a scratch
SQLite file with this package's table; the HTTP tests use the shared `client` (the real app on
the migrated test database, SQLite or PostgreSQL).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session, sessionmaker

from erma.catalog.loader import load_catalog
from erma.catalog.models import ServiceItem
from erma.catalog.schema import ServiceItemSpec
from erma.catalog.search import CatalogSearch, search_for_file
from erma.db import Base, make_engine
from erma.settings import ROOT

CATALOG_PATH = ROOT / "catalog" / "services.yaml"
HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def catalog_items() -> list[ServiceItemSpec]:
    return load_catalog(CATALOG_PATH)


@pytest.fixture(scope="session")
def items_by_code(catalog_items: list[ServiceItemSpec]) -> dict[str, ServiceItemSpec]:
    return {item.code: item for item in catalog_items}


@pytest.fixture(scope="session")
def catalog_search() -> CatalogSearch:
    return search_for_file(CATALOG_PATH)


@pytest.fixture(scope="session")
def query_file() -> dict:
    return yaml.safe_load((HERE / "search_queries.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def catalog_document() -> dict:
    """The catalog file as plain data, for tests that break one field of a copy."""
    return yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def db_sessionmaker(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog-test.db'}")
    Base.metadata.create_all(engine, tables=[ServiceItem.__table__])
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def db_session(db_sessionmaker: sessionmaker[Session]) -> Iterator[Session]:
    with db_sessionmaker() as session:
        yield session
