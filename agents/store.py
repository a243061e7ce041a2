"""Threads in Redis. A thread is a hash {version, json}; saves are compare-and-set on the version
(WATCH/MULTI), so two writers can never both advance the same thread."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis
from redis.exceptions import WatchError

from agents import keys
from agents.thread import SlackOrigin, Thread


def thread_id_for(origin: SlackOrigin) -> str:
    """Threads launched from Slack are named after their Slack thread, so a retried launch finds
    the thread it already created."""
    digest = hashlib.sha256(f"{origin.channel}:{origin.thread_ts}".encode()).hexdigest()
    return f"t{digest[:12]}"


class ConflictError(Exception):
    """Someone else saved the thread first; reload and decide again."""


class ThreadStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def create(self, thread: Thread) -> bool:
        """Save a new thread. False, writing nothing, if it exists (a retried launch)."""
        key = keys.thread(thread.id)
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.exists(key):
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping={"version": 0, "json": thread.model_dump_json()})
                pipe.expire(key, keys.THREAD_TTL)
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def load(self, thread_id: str) -> Thread | None:
        raw = await self._redis.hget(keys.thread(thread_id), "json")
        return Thread.model_validate_json(raw) if raw else None

    async def exists(self, thread_id: str) -> bool:
        return bool(await self._redis.exists(keys.thread(thread_id)))

    async def save(self, thread: Thread) -> Thread:
        """Save if nobody saved since `thread` was loaded; returns it with the new version."""
        key = keys.thread(thread.id)
        saved = thread.model_copy(update={"version": thread.version + 1})
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                current = await pipe.hget(key, "version")
                if current is None or int(current) != thread.version:
                    raise ConflictError(thread.id)
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.hset(key, mapping={"version": saved.version, "json": saved.model_dump_json()})
                pipe.expire(key, keys.THREAD_TTL)
                await pipe.execute()
            except WatchError as exc:
                raise ConflictError(thread.id) from exc
        return saved

    async def find(self, origin: SlackOrigin) -> str | None:
        """The thread launched in this Slack thread, if any."""
        thread_id = thread_id_for(origin)
        return thread_id if await self.exists(thread_id) else None

    async def thread_ids(self) -> list[str]:
        ids: list[str] = []
        async for key in self._redis.scan_iter(match=keys.thread("*"), count=500):
            name = key.decode() if isinstance(key, bytes) else key
            ids.append(name.split("{", 1)[1].rstrip("}"))
        return sorted(ids)

    async def set_request_message(
        self, thread_id: str, call_id: str, channel: str, ts: str
    ) -> None:
        await self._redis.set(
            keys.request_message(thread_id, call_id), f"{channel} {ts}", ex=keys.THREAD_TTL
        )

    async def request_message(self, thread_id: str, call_id: str) -> tuple[str, str] | None:
        """(channel, ts) of the Slack message that asked a human request."""
        raw = await self._redis.get(keys.request_message(thread_id, call_id))
        if raw is None:
            return None
        channel, ts = (raw.decode() if isinstance(raw, bytes) else raw).split(" ", 1)
        return channel, ts
