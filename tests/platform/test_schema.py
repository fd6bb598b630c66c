"""The schema the migrations build is the one the models declare, so an Alembic autogenerate run
proposes nothing — in particular it would not drop an index that only a migration created."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import erma.db as erma_db
from erma.models_registry import metadata


def test_migrations_and_models_agree(migrated):
    with erma_db.get_engine().connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert differences == []
