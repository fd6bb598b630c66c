"""The one place that commits (docs/architecture.md, "Commit policy").

Services and views never commit: services write and `flush()` when they need an id; the unit of work
that opened the session commits when the whole step has succeeded and rolls back on any exception.

- A request: `SESSION` (one session per request, shared by the route and its sub-dependencies such
  as `get_principal`). It is a function-scoped `yield` dependency, so the commit runs after the route
  function returns and BEFORE the response is sent: a commit that fails answers an error, never 200.
- Everything else — the outbox worker (one unit per job), CLI commands, background threads, scripts
  and a streaming response's short reads — opens `with unit_of_work() as session:`.
- Around a slow outside call a unit is split into explicit steps with `end_step(session)`: the
  conversation gateway (nothing open while Rasa answers) and the WeChat channel (nothing open while
  WeChat's API answers). Services may roll back to a savepoint (`begin_nested`) to recover from a
  lost race; they never commit.

A refusal that must still leave a record (a failed sign-in counted by the throttle, a failed status
lookup counted against the caller) calls `keep_on_refusal(session)` after writing that record: when
the step then ends in a `DomainError`, the unit of work commits instead of rolling back. Any other
exception still rolls back."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import anyio
from anyio import CancelScope, CapacityLimiter
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from erma.db import get_sessionmaker, read_only_engine
from erma.errors import DomainError

_KEEP_ON_REFUSAL = "erma_keep_on_refusal"
_AFTER_COMMIT = "erma_after_commit"
_READS_ONLY = "erma_reads_only"


def keep_on_refusal(session: Session) -> None:
    """What this session wrote so far is kept even if the step ends in a DomainError (a counted refusal).
    Call it only when everything written so far is the record of the attempt."""
    session.info[_KEEP_ON_REFUSAL] = True


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Runs `callback` once this session's unit of work has committed (e.g. reloading an in-memory copy
    of what was just written); never when it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _commit(session: Session) -> None:
    session.commit()
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


def end_step(session: Session) -> None:
    """Commits the step done so far, inside a unit of work that must hold no transaction across a slow
    outside call: the conversation gateway stores the resident's message, ends its read, asks Rasa with
    nothing open (Rasa's actions call back into the platform) and then writes the replies; the WeChat
    channel ends its read before calling WeChat's API and shares a new access token at once. The next
    statement begins the next step, which the enclosing unit of work commits or rolls back as usual."""
    _commit(session)


@contextmanager
def reading_step(session: Session) -> Iterator[Session]:
    """A step of a unit of work that only reads (e.g. the gateway reading a message between storing it
    and asking Rasa): the step so far is committed, the block reads in a read-only transaction (see
    `unit_of_work(read_only=True)`) that ends with it, and the unit's next step writes as before."""
    end_step(session)
    bind = session.bind
    session.bind = read_only_engine(bind)
    try:
        yield session
        end_step(session)
    finally:
        session.bind = bind


@contextmanager
def unit_of_work(factory: sessionmaker[Session] | None = None, *, read_only: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back on an exception (a
    DomainError after `keep_on_refusal` commits the counted attempt first), closed either way.

    `read_only=True` for work that never writes: on SQLite its transactions begin DEFERRED, so they
    read beside the one writer instead of taking the write lock (BEGIN IMMEDIATE) for a read; on
    PostgreSQL they are READ ONLY. Any write in it fails (a database error)."""
    session = (factory or get_sessionmaker())()
    if read_only:
        session.bind = read_only_engine(session.bind)
    try:
        yield session
    except DomainError:
        if session.info.pop(_KEEP_ON_REFUSAL, False):
            _commit(session)
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    else:
        _commit(session)
    finally:
        session.close()


def database_answers() -> None:
    """The health check's question: the database takes a statement (raises when it does not)."""
    with unit_of_work() as session:
        session.execute(text("SELECT 1"))


def reads_only(endpoint: Callable) -> Callable:
    """Marks a route whose request only reads (it and every dependency): its unit of work is read-only
    (`unit_of_work(read_only=True)`). Put it below the router's decorator."""
    setattr(endpoint, _READS_ONLY, True)
    return endpoint


def _nothing_to_end(session: Session) -> bool:
    """No transaction, nothing pending and no callback waiting: ending the unit is closing the session,
    which touches no database (e.g. the gateway, which ends its last step itself)."""
    return (not session.in_transaction() and not session.info.get(_AFTER_COMMIT)
            and not (session.new or session.dirty or session.deleted))


async def request_session(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency behind `SESSION`: the request's unit of work (read-only for a `reads_only` route),
    the same `unit_of_work`. Async so that a request does not pay two trips to the threadpool for it:
    opening the session touches no database and runs here, and so does the end when there is nothing to
    end (`_nothing_to_end`); a commit or a rollback runs in the threadpool, after the route returns and
    before the response is sent."""
    unit = unit_of_work(read_only=getattr(request.scope.get("endpoint"), _READS_ONLY, False))
    session = unit.__enter__()  # makes the session; no connection is taken until a statement needs one
    try:
        yield session
    except BaseException as exc:
        if not await _end_in_threadpool(unit, exc):
            raise
    else:
        if _nothing_to_end(session):
            unit.__exit__(None, None, None)
        else:
            await _end_in_threadpool(unit, None)


async def _end_in_threadpool(unit: AbstractContextManager, exc: BaseException | None) -> bool:
    # As FastAPI ends a sync dependency: shielded from the request's cancellation, and on a limiter of its
    # own, so that ending a unit never waits for a free worker thread while holding a pooled connection.
    with CancelScope(shield=True):
        return bool(await anyio.to_thread.run_sync(unit.__exit__, type(exc) if exc else None, exc,
                                                   exc.__traceback__ if exc else None, limiter=CapacityLimiter(1)))


# Every route and dependency takes its session as `session: Session = SESSION`: the same definition (and so
# the same dependency cache key) everywhere means one session per request; scope="function" commits after
# the route returns and before the response is sent.
SESSION = Depends(request_session, scope="function")
