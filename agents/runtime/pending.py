"""The index of approval requests across threads, for the approvals inbox (App Home).

Derived from the outbox, not from the save: the notifier calls `opened` when it delivers a
request's card and `settled` when it delivers the event that ends it. A crash between a save
and its delivery leaves the index behind the threads for a moment (the outbox's retry or the
reconciler delivers the event, and the index with it), never ahead of them; readers load each
listed thread and show a request as open only if the thread says it is, so a settled request
is never offered even while the index lags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import ToolCall
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread


@dataclass(frozen=True)
class Listed:
    """One indexed request as its thread stands now."""

    thread: Thread
    call: ToolCall

    @property
    def open(self) -> bool:
        return self.thread.outcome(self.call) is None


def member(thread_id: str, call_id: str) -> str:
    return f"{thread_id} {call_id}"


class PendingIndex:
    """Open approval requests by deadline, and the newest requests by when they were asked."""

    def __init__(self, redis: Redis, store: ThreadStore) -> None:
        self._redis = redis
        self._store = store

    async def opened(self, thread: Thread, call: ToolCall) -> None:
        """Request `call` is shown to people: list it (again: safe to repeat)."""
        assert call.terms is not None
        name = member(thread.id, call.call_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.open_requests(), {name: call.terms.deadline.timestamp()})
            pipe.expire(keys.open_requests(), keys.REQUESTS_TTL)
            pipe.zadd(keys.recent_requests(), {name: call.at.timestamp()}, nx=True)
            pipe.zremrangebyrank(keys.recent_requests(), 0, -keys.RECENT_REQUESTS - 1)
            pipe.expire(keys.recent_requests(), keys.REQUESTS_TTL)
            await pipe.execute()

    async def settled(self, thread_id: str, call_id: str) -> None:
        """Request `call_id` ended: it waits for nobody any more."""
        await self._redis.zrem(keys.open_requests(), member(thread_id, call_id))

    async def open(self) -> list[Listed]:
        """Every open request, soonest deadline first; anything the index still lists but its
        thread settled (a delivery not made yet) or lost is left out."""
        names = await self._redis.zrange(keys.open_requests(), 0, -1)
        return [found for found in await self._load(names) if found.open]

    async def recent(self) -> list[Listed]:
        """The newest requests, open or settled, newest first."""
        names = await self._redis.zrevrange(keys.recent_requests(), 0, -1)
        return await self._load(names)

    async def _load(self, names: Sequence[object]) -> list[Listed]:
        threads: dict[str, Thread | None] = {}
        found: list[Listed] = []
        for raw in names:
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            thread_id, _, call_id = text.partition(" ")
            if thread_id not in threads:
                threads[thread_id] = await self._store.load(thread_id)
            thread = threads[thread_id]
            call = thread.call(call_id) if thread else None
            if thread is not None and call is not None and call.terms is not None:
                found.append(Listed(thread, call))
        return found
