"""Rasa's SQL tracker store (rasa.core.tracker_store.SQLTrackerStore) with SQLite tuned like the
platform's database (erma/db.py), named in endpoints.yml as
`type: rasa_plugins.tracker_store.ErmaSQLTrackerStore` with the same keys as `type: SQL`.

On SQLite, Rasa 3.6 (SQLAlchemy 1.4) opens a new connection for every read and write of a tracker (a
file database gets no pool) in the default rollback-journal mode with `synchronous=FULL`: several
fsyncs per message. Here the file is in WAL with `synchronous=NORMAL` and connections are kept in a
small pool. The trade-off (docs/benchmarks.md): a power cut or an OS crash may lose the last few
committed turns of a conversation (never corrupt the file); a crash of Rasa itself loses nothing.
Any other dialect (PostgreSQL in the scaled set-up) keeps Rasa's engine.

On every dialect, the trackers of recent conversations are kept in memory between a message and the
next (Rasa reads every event of the conversation back from the table and rebuilds the tracker for
each message, and counts them again to save: a third of Rasa's CPU per message in a py-spy profile,
docs/benchmarks.md). A kept tracker is used only while the conversation's rows are as it left them
(their count and last id, one indexed query): another replica's turn or the retention purge makes
the next message read the table again. A tracker is lent to one message at a time; one that was not
saved (the message failed) is read from the table again.
"""
from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

BUSY_TIMEOUT_SECONDS = 30  # the platform's purge (python -m erma purge-trackers) may write meanwhile
KEPT_TRACKERS = 512  # conversations whose tracker stays in memory (least recently used leave first)

Version = Tuple[int, Optional[int]]  # a conversation's rows: how many, and the last id


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    stored: int  # the tracker's first events that are in the table (its latest session)
    version: Version
    lent: bool = False  # a message has it (retrieved, not saved yet)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class ErmaSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore keeping recent trackers; on SQLite with WAL, synchronous=NORMAL and kept connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # creates the tables as Rasa does
        self._kept: "OrderedDict[str, _Kept]" = OrderedDict()
        self._version_query = sa.select(sa.func.count(self.SQLEvent.id), sa.func.max(self.SQLEvent.id)).where(
            self.SQLEvent.sender_id == sa.bindparam("sender_id"))
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(
            url, poolclass=QueuePool, pool_size=2, max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS})
        event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(bind=self.engine)

    def _version(self, session: Any, sender_id: str) -> Version:
        count, last = session.execute(self._version_query, {"sender_id": sender_id}).one()
        return int(count), last

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        kept = self._kept.get(sender_id)
        with self.session_scope() as session:
            version = self._version(session, sender_id)
        if kept is not None and not kept.lent and kept.version == version:
            kept.lent = True
            self._kept.move_to_end(sender_id)
            return kept.tracker
        # Read from the table; a tracker lent before and not saved yet is no longer the kept one.
        tracker = await super().retrieve(sender_id)
        self._kept.pop(sender_id, None)
        if tracker is not None:
            self._keep(sender_id, _Kept(tracker, len(tracker.events), version, lent=True))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        sender_id = tracker.sender_id
        kept = self._kept.pop(sender_id, None)
        if kept is None or not kept.lent or kept.tracker is not tracker:
            await super().save(tracker)  # Rasa's way: counts what is stored; the tracker is not kept
            return
        await self.stream_events(tracker)
        with self.session_scope() as session:
            if self._version(session, sender_id) != kept.version:  # written meanwhile: Rasa's way
                session.close()
                await super().save(tracker)
                return
            rows = [self._row(sender_id, event)
                    for event in itertools.islice(tracker.events, kept.stored, len(tracker.events))]
            session.add_all(rows)
            session.flush()  # assigns the ids (read before the commit expires them)
            last = max((row.id for row in rows), default=kept.version[1])
            session.commit()
        self._keep(sender_id, _Kept(tracker, len(tracker.events), (kept.version[0] + len(rows), last)))

    def _row(self, sender_id: str, event: Any) -> Any:
        # As SQLTrackerStore.save writes an event.
        data = event.as_dict()
        return self.SQLEvent(sender_id=sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                             intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                             action_name=data.get("name"), data=json.dumps(data))

    def _keep(self, sender_id: str, kept: _Kept) -> None:
        self._kept[sender_id] = kept
        self._kept.move_to_end(sender_id)
        while len(self._kept) > KEPT_TRACKERS:
            self._kept.popitem(last=False)
