"""Rasa's SQL tracker store (rasa.core.tracker_store.SQLTrackerStore) with SQLite tuned like the
platform's database (erma/db.py), named in endpoints.yml as
`type: rasa_plugins.tracker_store.ErmaSQLTrackerStore` with the same keys as `type: SQL`.

On SQLite, Rasa 3.6 (SQLAlchemy 1.4) opens a new connection for every read and write of a tracker (a
file database gets no pool) in the default rollback-journal mode with `synchronous=FULL`: several
fsyncs per message. Here the file is in WAL with `synchronous=NORMAL` and connections are kept in a
small pool. The trade-off (docs/benchmarks.md): a power cut or an OS crash may lose the last few
committed turns of a conversation (never corrupt the file); a crash of Rasa itself loses nothing.
Any other dialect (PostgreSQL in the scaled set-up) is Rasa's store unchanged.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_SECONDS = 30  # the platform's purge (python -m erma purge-trackers) may write meanwhile


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class ErmaSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore; on SQLite with WAL, synchronous=NORMAL and kept connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # creates the tables as Rasa does
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=2, max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS})
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(bind=self.engine)
