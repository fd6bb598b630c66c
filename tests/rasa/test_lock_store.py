"""rasa_plugins/lock_store.py: the scaled set-up's conversation locks (Redis, shared by the Rasa replicas)
when a replica dies.

Two replicas share one store (an in-memory stand-in for the few Redis calls the lock store makes); time is
a fake clock that each wait between looks advances, so that a ticket's expiry is reached without waiting
for it. A message resent by the load balancer the instant its replica died holding the lock must be
served once the dead replica's ticket expires (Rasa's own store waited for ever in that case: the
replica-kill test's message not answered within the gateway's 60 s), and never while a live replica
holds the conversation."""
from __future__ import annotations

import asyncio
import time

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from rasa_plugins.lock_store import ErmaRedisLockStore

LIFETIME = 10.0  # TICKET_LOCK_LIFETIME in the scaled set-up
LOOK = 1.0  # Rasa looks again every second
CONVERSATION = "c0ffee"


class FakeRedis:
    """GET, SET, DELETE and WATCH/MULTI transactions, as redis-py's client and pipeline offer them."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str):
        return self.data.get(key)

    def set(self, key: str, value) -> None:
        self.data[key] = value.encode() if isinstance(value, str) else value

    def delete(self, key: str) -> int:
        return int(self.data.pop(key, None) is not None)

    def transaction(self, func, *watches, value_from_callable: bool = False):
        pipe = FakePipeline(self)
        result = func(pipe)
        pipe.execute()
        return result if value_from_callable else None


class FakePipeline:
    def __init__(self, red: FakeRedis) -> None:
        self.red, self.queued = red, None

    def get(self, key: str):
        return self.red.get(key)

    def multi(self) -> None:
        self.queued = []

    def set(self, key: str, value) -> None:
        self.queued.append(lambda: self.red.set(key, value))

    def delete(self, key: str) -> None:
        self.queued.append(lambda: self.red.delete(key))

    def execute(self) -> None:
        for command in self.queued or []:
            command()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    real_sleep = asyncio.sleep

    async def sleep(seconds: float, *args):  # the clock moves on (a look comes a little late), no real wait
        clock.now += seconds + 0.01
        if clock.now > start + 120:
            raise AssertionError("still waiting for the lock two minutes later")
        await real_sleep(0)

    start = clock.now
    monkeypatch.setattr(time, "time", clock.time)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    return clock


def replicas(count: int = 2) -> list[ErmaRedisLockStore]:
    red = FakeRedis()
    stores = [ErmaRedisLockStore(host="127.0.0.1", key_prefix="ermatest") for _ in range(count)]
    for store in stores:
        store.red = red
    return stores


def test_a_message_resent_the_instant_its_replica_died_is_served_when_the_dead_ticket_expires(clock):
    dead, survivor = replicas()
    dead.issue_ticket(CONVERSATION, LIFETIME)  # took the lock, then SIGKILL: never gives it back
    died_at = clock.now
    clock.now += 0.05  # the load balancer resends the message to the other replica at once

    async def turn() -> float:
        async with survivor.lock(CONVERSATION, LIFETIME, LOOK):
            return clock.now

    served_at = asyncio.run(turn())
    assert served_at > died_at + LIFETIME  # not while the dead replica's ticket could still be live
    assert survivor.get_lock(CONVERSATION) is None  # and the lock is given back after the turn


def test_a_conversation_is_never_served_twice_at_once_while_its_holder_is_alive(clock):
    holder, waiter = replicas()
    served: list[str] = []

    async def run() -> None:
        async with holder.lock(CONVERSATION, LIFETIME, LOOK):
            async def wait() -> None:
                async with waiter.lock(CONVERSATION, LIFETIME, LOOK):
                    served.append("waiter")

            waiting = asyncio.create_task(wait())
            for _ in range(5):  # the holder's turn goes on while the waiter looks again and again
                await asyncio.sleep(LOOK)
                assert served == []
            served.append("holder done")
        await waiting

    asyncio.run(run())
    assert served == ["holder done", "waiter"]


def test_a_waiting_message_whose_replica_died_does_not_hold_up_the_next_one(clock):
    first, dead, third = replicas(3)
    ticket = first.issue_ticket(CONVERSATION, LIFETIME)
    dead.issue_ticket(CONVERSATION, LIFETIME)  # queued behind the first, then its replica was killed
    dead_at = clock.now
    clock.now += 0.05
    first.cleanup(CONVERSATION, ticket)  # the first message's turn is over, the next one comes

    async def turn() -> float:
        async with third.lock(CONVERSATION, LIFETIME, LOOK):
            return clock.now

    served_at = asyncio.run(turn())
    assert dead_at + LIFETIME < served_at


def test_rasa_builds_it_from_the_endpoints_file_with_the_keys_of_its_redis_store():
    config = EndpointConfig(type="rasa_plugins.lock_store.ErmaRedisLockStore", url="127.0.0.1", port=6399,
                            db=5, key_prefix="erma")
    store = LockStore.create(config)
    assert isinstance(store, ErmaRedisLockStore)
    assert store.key_prefix == "erma:lock:"
    connection = store.red.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["db"]) == ("127.0.0.1", 6399, 5)
