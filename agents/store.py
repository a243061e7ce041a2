"""Threads in Redis. A thread is a hash {version, json}; saves are compare-and-set on the version,
so two writers can never both advance the same thread."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from agents import keys
from agents.thread import SlackOrigin, Thread


def thread_id_for(origin: SlackOrigin) -> str:
    """Threads launched from Slack are named after their Slack thread, so a retried launch finds
    the thread it already created."""
    digest = hashlib.sha256(f"{origin.channel}:{origin.thread_ts}".encode()).hexdigest()
    return f"t{digest[:12]}"


class ConflictError(Exception):
    """Someone else saved the thread first; reload and decide again."""


# Compare-and-set as scripts rather than WATCH/MULTI: redis-py's async cluster client cannot
# run WATCH transactions, and a script is one atomic round trip on a standalone server too.
# KEYS: the thread hash. ARGV: expected version (-1: must not exist), new version, json, ttl.
_SAVE = """
local current = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '-1' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'json', ARGV[3])
-- Never shorten a TTL that scheduled work lengthened (keep_until).
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return 1
"""


class ThreadStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._save: Any = redis.register_script(_SAVE)

    async def create(self, thread: Thread) -> bool:
        """Save a new thread. False, writing nothing, if it exists (a retried launch)."""
        return await self._write(thread, expected=-1, version=0)

    async def save(self, thread: Thread) -> Thread:
        """Save if nobody saved since `thread` was loaded; returns it with the new version."""
        saved = thread.model_copy(update={"version": thread.version + 1})
        if not await self._write(saved, expected=thread.version, version=saved.version):
            raise ConflictError(thread.id)
        return saved

    async def _write(self, thread: Thread, *, expected: int, version: int) -> bool:
        written = await self._save(
            keys=[keys.thread(thread.id)],
            args=[expected, version, thread.model_dump_json(), keys.THREAD_TTL],
        )
        return bool(written)

    async def keep_until(self, thread_id: str, at: datetime) -> None:
        """Keep the thread (and its delivery records) at least until `at` plus a day, so work
        planned for then (a grant's revocation) still finds it, however long that is."""
        ttl = max(keys.THREAD_TTL, int(at.timestamp() - time.time()) + keys.SEEN_TTL)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (keys.thread(thread_id), keys.deliveries(thread_id)):
                pipe.expire(key, ttl, gt=True)
            await pipe.execute()

    async def load(self, thread_id: str) -> Thread | None:
        raw = await self._redis.hget(keys.thread(thread_id), "json")
        return Thread.model_validate_json(raw) if raw else None

    async def exists(self, thread_id: str) -> bool:
        return bool(await self._redis.exists(keys.thread(thread_id)))

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
