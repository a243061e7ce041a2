"""Deadlines and reminders of human requests, and tool calls planned for later: a sorted set
scored by due time whose members are the jobs themselves. When due, a Lua script moves them into
the job stream in one atomic step, so whichever worker gets there first fires each one, exactly
once.

Scheduled work keeps what it needs until it has run, however far ahead it is planned (a 30-day
grant's revocation): scheduling lengthens its thread's TTL to past the due time, and the sorted
set always lives a `JOBS_TTL` past its last member's due time, whatever order members came in."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import Terms, ToolCall
from agents.runtime.jobs import Deadline, Job, Scheduled, thread_of
from agents.runtime.store import ThreadStore

# KEYS: deadlines zset, jobs stream. ARGV: now, batch size, stream maxlen. The stream has no
# TTL (one would take the consumer group along): MAXLEN bounds it.
_FIRE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'job', job)
end
return #due
"""

# KEYS: deadlines zset. ARGV: now (epoch s), margin (s), then score, member pairs.
# The TTL is computed from the *last* member, not the ones added: a set left without a TTL by
# an older version (EXPIRE GT never applies to a key without one) gets one that still covers
# everything in it. It only ever grows while members remain.
_SCHEDULE = """
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
local last = redis.call('ZREVRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local needed = math.ceil(tonumber(last[2]) - tonumber(ARGV[1])) + tonumber(ARGV[2])
if needed < tonumber(ARGV[2]) then needed = tonumber(ARGV[2]) end
-- TTL is -1 for a key without one, so that case is covered too.
if redis.call('TTL', KEYS[1]) < needed then
  redis.call('EXPIRE', KEYS[1], needed)
end
return needed
"""

BATCH = 100


def _deadline(
    thread_id: str, request: ToolCall, event: Literal["remind", "expire", "review"]
) -> Deadline:
    return Deadline(
        thread_id=thread_id, call_id=request.call_id, intent=request.intent, event=event
    )


class Deadlines:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._threads = ThreadStore(redis)
        self._fire_due: Any = redis.register_script(_FIRE_DUE)
        self._schedule: Any = redis.register_script(_SCHEDULE)

    async def schedule(self, request: ToolCall, thread_id: str, terms: Terms) -> None:
        """Plan the reminder and the expiry of a request (idempotent)."""
        due: list[tuple[Job, datetime]] = [
            (_deadline(thread_id, request, "expire"), terms.deadline)
        ]
        if terms.remind_at is not None:
            due.append((_deadline(thread_id, request, "remind"), terms.remind_at))
        await self._plan(thread_id, due)

    async def cancel(self, request: ToolCall, thread_id: str) -> None:
        """Drop the reminder and expiry of a request that was settled."""
        jobs = [_deadline(thread_id, request, e) for e in ("remind", "expire")]
        await self._redis.zrem(keys.deadlines(), *(job.model_dump_json() for job in jobs))

    async def schedule_review(self, thread_id: str, request: ToolCall, *, after: datetime) -> None:
        """Plan the reminder to acknowledge the break-glass approval of `request`: its rule's
        timeout after `after` (idempotent; planning it again moves it)."""
        assert request.terms is not None
        timeout = max(request.terms.deadline - request.at, timedelta(seconds=1))
        await self._plan(thread_id, [(_deadline(thread_id, request, "review"), after + timeout)])

    async def cancel_review(self, thread_id: str, request: ToolCall) -> None:
        """The break-glass approval of `request` was acknowledged: no more reminders."""
        job = _deadline(thread_id, request, "review")
        await self._redis.zrem(keys.deadlines(), job.model_dump_json())

    async def unreviewed(self) -> int:
        """Break-glass approvals not yet acknowledged: each has one review reminder planned
        until it is (re-planned after each reminder)."""
        members: Any = await self._redis.zrange(keys.deadlines(), 0, -1)
        return sum(1 for member in members if b'"event":"review"' in member)

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
        """Plan `job` for `at` (the same job is planned once; planning it again moves it)."""
        await self._plan(thread_of(job), [(job, at)])

    async def _plan(self, thread_id: str, due: Sequence[tuple[Job, datetime]]) -> None:
        # The thread first: if we stop in between, it is only kept longer than needed.
        await self._threads.keep_until(thread_id, max(at for _job, at in due))
        pairs: list[str | float] = []
        for job, at in due:
            pairs += [at.timestamp(), job.model_dump_json()]
        await self._schedule(keys=[keys.deadlines()], args=[time.time(), keys.JOBS_TTL, *pairs])

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
