"""Server-Sent Events for one web-chat conversation.

The database is the source of truth, so this works with any number of platform processes: each
open stream polls its conversation (in the thread pool — the event loop never waits on the
database) and sends what is new. Transcript entries go out as `event: entry` with `id: <seq>`,
so the browser's automatic reconnect sends `Last-Event-ID` and gets exactly what it missed
(the page also drops any seq it already has). Changes of owner (bot / queued / agent / closed,
and which agent) go out as `event: state`, without an id.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

from erma.conversations import service
from erma.conversations.models import Conversation
from erma.unit_of_work import unit_of_work
from erma.webchat import presenter

POLL_SECONDS = 0.75
HEARTBEAT_SECONDS = 15.0
# Streams end now and then; EventSource reconnects on its own (with Last-Event-ID), which also
# moves long-lived clients between platform processes and drops streams of vanished clients.
MAX_STREAM_SECONDS = 300.0
RETRY_MILLISECONDS = 2000
BATCH = 200


def read_since(conversation_id: str, after_seq: int) -> tuple[dict | None, list[dict], int, bool]:
    """(who is answering, entries the resident may see after `after_seq`, the highest seq read,
    whether more may be waiting). The state is None when the conversation is gone."""
    with unit_of_work() as session:  # a short unit per poll: nothing stays open between polls
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None, [], after_seq, False
        state = presenter.conversation_view(session, conversation)
        entries = service.transcript(session, conversation, after_seq, BATCH)
        last = entries[-1].seq if entries else after_seq
        return state, presenter.entries_view(session, entries), last, len(entries) == BATCH


def format_event(data: dict, event: str, event_id: int | None = None) -> str:
    lines = [f"id: {event_id}"] if event_id is not None else []
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


async def events(conversation_id: str, after_seq: int, is_disconnected: Callable[[], object], *,
                 poll_seconds: float | None = None, max_seconds: float | None = None) -> AsyncIterator[str]:
    """The event stream; ends when the client goes away, the conversation vanishes, or after `max_seconds`."""
    poll = POLL_SECONDS if poll_seconds is None else poll_seconds
    limit = MAX_STREAM_SECONDS if max_seconds is None else max_seconds
    started = last_sent = time.monotonic()
    cursor = after_seq
    last_owner = None
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    while True:
        if await is_disconnected():
            return
        state, entries, cursor, more = await run_in_threadpool(read_since, conversation_id, cursor)
        if state is None:
            return
        for entry in entries:
            yield format_event(entry, "entry", entry["seq"])
            last_sent = time.monotonic()
        owner = (state["state"], state["agent"])
        if owner != last_owner:
            last_owner = owner
            yield format_event(state, "state")
            last_sent = time.monotonic()
        now = time.monotonic()
        if now - started >= limit:
            return
        if now - last_sent >= HEARTBEAT_SECONDS:
            yield ": ping\n\n"  # keeps proxies from closing an idle stream
            last_sent = now
        if not more:
            await asyncio.sleep(poll)
