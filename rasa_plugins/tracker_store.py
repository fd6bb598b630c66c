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
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional, Tuple

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
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
        self._saving: Dict[str, _Kept] = {}  # lent trackers being saved, for _additional_events
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
        """Rasa's save; a tracker lent by `retrieve` writes only what it added (`_additional_events`),
        without counting the stored events again, and is kept."""
        sender_id = tracker.sender_id
        kept = self._kept.pop(sender_id, None)
        lent = kept is not None and kept.lent and kept.tracker is tracker
        if lent:
            self._saving[sender_id] = kept
        try:
            await super().save(tracker)
        finally:
            saving = self._saving.pop(sender_id, None)
        if saving is None:
            return  # not lent: not kept, the next message reads the table
        with self.session_scope() as session:
            version = self._version(session, sender_id)
        if version[0] == kept.version[0] + len(tracker.events) - kept.stored:  # nobody else wrote meanwhile
            self._keep(sender_id, _Kept(tracker, len(tracker.events), version))

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        # A lent tracker knows which of its events are stored; Rasa counts the stored events, which would
        # skip this turn if another writer added some meanwhile.
        saving = self._saving.get(tracker.sender_id)
        if saving is None:
            return super()._additional_events(session, tracker)
        return itertools.islice(tracker.events, saving.stored, len(tracker.events))

    def _keep(self, sender_id: str, kept: _Kept) -> None:
        self._kept[sender_id] = kept
        self._kept.move_to_end(sender_id)
        while len(self._kept) > KEPT_TRACKERS:
            self._kept.popitem(last=False)
