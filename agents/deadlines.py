"""Deadlines and reminders of human requests, and tool calls planned for later: a sorted set
scored by due time whose members are the jobs themselves. When due, a Lua script moves them into
the job stream in one atomic step, so whichever worker gets there first fires each one, exactly
once."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from typing import Any, Literal

from redis.asyncio import Redis

from agents import keys
from agents.events import Terms, ToolCall
from agents.jobs import Deadline, Job, Scheduled

# KEYS: deadlines zset, jobs stream. ARGV: now, batch size, stream maxlen.
_FIRE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'job', job)
end
return #due
"""

BATCH = 100


def _deadline(thread_id: str, request: ToolCall, event: Literal["remind", "expire"]) -> Deadline:
    return Deadline(
        thread_id=thread_id, call_id=request.call_id, intent=request.intent, event=event
    )


class Deadlines:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._fire_due: Any = redis.register_script(_FIRE_DUE)

    async def schedule(self, request: ToolCall, thread_id: str, terms: Terms) -> None:
        """Plan the reminder and the expiry of a request (idempotent)."""
        due = {_deadline(thread_id, request, "expire"): terms.deadline}
        if terms.remind_at is not None:
            due[_deadline(thread_id, request, "remind")] = terms.remind_at
        mapping = {job.model_dump_json(): at.timestamp() for job, at in due.items()}
        ttl = max(keys.JOBS_TTL, int(terms.deadline.timestamp() - time.time()) + 3600)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.deadlines(), mapping)
            pipe.expire(keys.deadlines(), ttl, gt=True)
            await pipe.execute()

    async def cancel(self, request: ToolCall, thread_id: str) -> None:
        """Drop the reminder and expiry of a request that was settled."""
        jobs = [_deadline(thread_id, request, e) for e in ("remind", "expire")]
        await self._redis.zrem(keys.deadlines(), *(job.model_dump_json() for job in jobs))

    async def waiting(self) -> Counter[str]:
        """Open human requests by kind: each has exactly one expiry planned until it settles."""
        counts: Counter[str] = Counter()
        members: Any = await self._redis.zrange(keys.deadlines(), 0, -1)
        for member in members:
            if b'"event":"expire"' in member:
                counts[Deadline.model_validate_json(member).intent] += 1
        return counts

    async def schedule_call(self, thread_id: str, call: dict[str, Any], *, at: datetime) -> None:
        """Run tool call `call` in the thread at `at` (the same call is planned once)."""
        await self.schedule_job(Scheduled(thread_id=thread_id, call=call), at=at)

    async def schedule_job(self, job: Job, *, at: datetime) -> None:
        ttl = max(keys.JOBS_TTL, int(at.timestamp() - time.time()) + 3600)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(keys.deadlines(), {job.model_dump_json(): at.timestamp()})
            pipe.expire(keys.deadlines(), ttl, gt=True)
            await pipe.execute()

    async def fire_due(self, now: datetime) -> int:
        """Move every job due by `now` into the job stream; returns how many moved."""
        fired = 0
        while True:
            moved = int(
                await self._fire_due(
                    keys=[keys.deadlines(), keys.jobs()],
                    args=[now.timestamp(), BATCH, keys.JOBS_MAXLEN],
                )
            )
            fired += moved
            if moved < BATCH:
                return fired
