"""What the worker needs to know about one kind of outbox message."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

MAX_ATTEMPTS = 8

# (session, payload, now[, prepared]) — runs inside the message's transaction; raising means "retry later".
Handler = Callable[..., None]
# (sessionmaker, payload, now) -> anything — runs with NO transaction open, before the message is claimed
# for processing: for calls to services that call back into the platform (Rasa's actions), which must
# never wait on the worker's locks. Its result, or the exception it raised, is handed to the handler.
Prepare = Callable[[sessionmaker[Session], dict, dt.datetime], Any]
# (session, payload, now, last_error) — the retries are exhausted; runs in the transaction that marks
# the message failed, so agents learn about it exactly once.
FailedHook = Callable[[Session, dict, dt.datetime, str], None]


@dataclass(frozen=True)
class Kind:
    handle: Handler
    prepare: Prepare | None = None
    on_failed: FailedHook | None = None
    max_attempts: int = MAX_ATTEMPTS
