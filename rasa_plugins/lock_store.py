"""Rasa's Redis lock store (rasa.core.lock_store.RedisLockStore) mended for replicas that die, named in
the scaled set-up's endpoints.yml as `type: rasa_plugins.lock_store.ErmaRedisLockStore` with the same
keys as `type: redis` (url, port, db, key_prefix, password, ...).

Rasa's ticket lock: each message of a conversation takes a numbered ticket that expires
TICKET_LOCK_LIFETIME seconds after it was issued (so that a replica that dies holding the lock frees it);
the lowest live ticket is served; the others look again every second. In Rasa 3.6 a waiting message's
own ticket expires too, counted from when it was issued. When a replica is killed the instant after it
took a ticket and the load balancer resends the message at once to the other replica, the two tickets
expire less than a second apart; the waiter's next look finds both gone, and with no live ticket Rasa
serves "ticket 0", never the waiter's: it waits until its client gives up (the replica-kill test's
message not answered within the gateway's 60 s; tests/rasa/test_lock_store.py).

Here:
- a waiting message keeps its ticket alive: each look renews it (a dead replica's tickets still expire
  TICKET_LOCK_LIFETIME after its last look), and a ticket lost anyway (the event loop stalled longer than
  the lifetime) is taken again at the end of the queue, never waited on forever;
- issuing, renewing and returning a ticket are each one Redis transaction (WATCH/MULTI), not Rasa's
  read-modify-write that two replicas can interleave (one's ticket overwritten, or the lock deleted
  under a message that just took a ticket).
What a turn does while it holds the lock is Rasa's: a holder's ticket expires TICKET_LOCK_LIFETIME after
its last look, as in Rasa.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, List, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


class ErmaRedisLockStore(RedisLockStore):
    """RedisLockStore whose waiting messages keep their tickets, with atomic ticket updates."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        if endpoint_config is not None:  # as Rasa builds its own: the url is Redis's host
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _update(self, conversation_id: Text, change: Callable[[TicketLock], Any]) -> Tuple[Any, TicketLock]:
        """Applies `change` to the conversation's lock in one transaction (retried if another replica
        wrote the lock meanwhile); a lock left without tickets is deleted."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> Tuple[Any, TicketLock]:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else self.create_lock(conversation_id)
            result = change(lock)
            lock.remove_expired_tickets()
            pipe.multi()
            if lock.tickets:
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)
            return result, lock

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        logger.debug(f"Issuing ticket for conversation '{conversation_id}'.")
        try:
            return self._update(conversation_id, lambda lock: lock.issue_ticket(lock_lifetime))[0]
        except Exception as e:
            raise LockError(f"Error while acquiring lock. Error:\n{e}")

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Returns the ticket; the lock goes when no ticket is left."""
        self._update(conversation_id, lambda lock: lock.remove_ticket_for(ticket_number))

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        ticket = [self.issue_ticket(conversation_id, lock_lifetime)]  # its number may change while waiting
        try:
            yield await self._wait_for_turn(conversation_id, ticket, lock_lifetime, wait_time_in_seconds)
        finally:
            self.cleanup(conversation_id, ticket[0])

    async def _wait_for_turn(
        self, conversation_id: Text, ticket: List[int], lock_lifetime: float, wait_time_in_seconds: float
    ) -> TicketLock:
        logger.debug(f"Acquiring lock for conversation '{conversation_id}'.")

        def keep_place(lock: TicketLock) -> None:
            lock.remove_expired_tickets()
            mine = next((t for t in lock.tickets if t.number == ticket[0]), None)
            if mine is not None:
                mine.expires = time.time() + lock_lifetime
            else:
                lost = ticket[0]
                ticket[0] = lock.issue_ticket(lock_lifetime)
                logger.warning(
                    f"Ticket {lost} for conversation '{conversation_id}' expired while waiting; "
                    f"waiting again with ticket {ticket[0]}.")

        while True:
            _, lock = self._update(conversation_id, keep_place)
            if not lock.is_locked(ticket[0]):
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                return lock
            logger.debug(
                f"Failed to acquire lock for conversation ID '{conversation_id}' because "
                f"{ticket[0] - (lock.now_serving or 0)} other item(s) for this conversation ID have to be "
                f"finished processing first. Retrying in {wait_time_in_seconds} seconds ...")
            await asyncio.sleep(wait_time_in_seconds)
