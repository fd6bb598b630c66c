"""Domain events: a small in-process dispatcher (docs/architecture.md, "Events").

A domain module publishes what happened — an event dataclass from its own package's `events` module
(erma/cases/events.py, erma/conversations/events.py, erma/review/events.py, erma/deferral/events.py) —
and never knows who listens. The listeners (pushes and notices, the outbox) are subscribed once per
process by `erma.wiring.wire()`, which the production entry points call at start-up (`create_app`,
the worker and the CLI) and so do the test fixtures.

Handlers run synchronously, in the order they were subscribed, inside the publisher's session and
transaction: what they write (a notice, an outbox message) commits or rolls back together with the
change itself, and a handler that raises aborts the change. They flush when they need an id, and never
commit (erma/unit_of_work.py commits).

A process that never ran `wire()` cannot lose an event silently: `publish` raises `NotWired`, so the
change that would have pushed nothing is rolled back instead.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[[Session, Any], None]

_handlers: dict[type, list[Handler]] = {}
_wired = False


class NotWired(RuntimeError):
    """An event was published in a process whose listeners were never subscribed (erma.wiring.wire())."""


def subscribe(event_type: type, handler: Handler) -> None:
    """Call `handler(session, event)` for every published event of exactly this type. Subscribing the
    same handler twice is a no-op."""
    handlers = _handlers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def mark_wired() -> None:
    """Every listener of this process is subscribed (called by erma.wiring.wire() when it is done)."""
    global _wired
    _wired = True


def is_wired() -> bool:
    return _wired


def subscribers(event_type: type) -> list[Handler]:
    return list(_handlers.get(event_type, ()))


def publish(session: Session, event: Any) -> None:
    """Run the event's handlers now, in the caller's session and transaction."""
    if not _wired:
        raise NotWired(f"{type(event).__name__} published before erma.wiring.wire() subscribed the listeners")
    for handler in subscribers(type(event)):
        handler(session, event)


def reset() -> None:
    """Forget every subscription (tests; call erma.wiring.wire() again afterwards)."""
    global _wired
    _handlers.clear()
    _wired = False
