"""A worker takes jobs from the stream and hands them to the runtime, one thread at a time.

- Jobs of a consumer that died are reclaimed after `claim_ms` without a heartbeat (XAUTOCLAIM).
- A job runs under its thread's lease, so two workers never advance one thread at once; while
  it runs, the worker renews the lease and touches the job so neither looks abandoned.
- A job that failed `max_attempts` times goes to the dead-letter stream.
- `burst` runs until the stream is empty and returns, which keeps tests deterministic; `stop()`
  lets the job in hand finish first (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError

from agents.deadlines import Deadlines
from agents.events import utcnow
from agents.jobs import Job, JobQueue, thread_of
from agents.lease import Leases
from agents.runtime import Runtime

log = logging.getLogger(__name__)

RETRY_DELAY = 1.0

current_thread: ContextVar[str | None] = ContextVar("current_thread", default=None)
"""The thread this task is working on, for log lines (see bot/logs.py)."""


@dataclass(frozen=True)
class WorkerLimits:
    claim_ms: int = 60_000
    """A job untouched this long belongs to a dead worker and is taken over."""
    max_attempts: int = 5
    block_ms: int = 1000


class Worker:
    def __init__(
        self,
        *,
        queue: JobQueue,
        runtime: Runtime,
        deadlines: Deadlines,
        leases: Leases,
        limits: WorkerLimits = WorkerLimits(),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._queue = queue
        self._runtime = runtime
        self._deadlines = deadlines
        self._leases = leases
        self._limits = limits
        self._clock = clock
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, *, burst: bool = False) -> int:
        """Handle jobs until stopped (or, with `burst`, until none are left). Returns the count."""
        await self._queue.setup()
        handled = 0
        while not self._stopping.is_set():
            try:
                taken = await self._next(burst=burst)
            except RedisError:
                if burst:
                    raise
                log.warning("Redis unavailable; retrying in %.0fs", RETRY_DELAY, exc_info=True)
                await asyncio.sleep(RETRY_DELAY)
                continue
            if not taken and burst:
                break
            for entry_id, job in taken:
                handled += await self._handle(entry_id, job)
        return handled

    async def _next(self, *, burst: bool) -> list[tuple[str, Job]]:
        # Due deadlines become jobs first; any worker may fire them, once each.
        await self._deadlines.fire_due(self._clock())
        orphans = await self._queue.reclaim(min_idle_ms=self._limits.claim_ms)
        if orphans:
            log.warning("took over %d job(s) of a worker that stopped answering", len(orphans))
            return orphans
        return await self._queue.take(block_ms=None if burst else self._limits.block_ms)

    async def _handle(self, entry_id: str, job: Job) -> int:
        thread_id = thread_of(job)
        owner = f"{self._queue.consumer}/{entry_id}"
        if not await self._leases.acquire(thread_id, owner, wait_ms=self._leases.ttl_ms):
            # Another worker is on this thread; the job stays pending and is retried later.
            log.info("thread %s is busy; job %s waits", thread_id, entry_id)
            return 0
        attempt = await self._queue.started(entry_id)
        working_on = current_thread.set(thread_id)
        keepalive = asyncio.create_task(self._keepalive(thread_id, owner, entry_id))
        try:
            started = time.perf_counter()
            await self._runtime.handle(job, key=entry_id)
            seconds = round(time.perf_counter() - started, 3)
            log.info("handled a %s job", job.kind, extra={"job": job.kind, "seconds": seconds})
        except Exception as exc:
            log.exception("job %s (%s) failed, attempt %d", entry_id, job.kind, attempt)
            if attempt >= self._limits.max_attempts:
                await self._queue.bury(entry_id, job.model_dump_json(), repr(exc))
            return 0
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            await self._leases.release(thread_id, owner)
            current_thread.reset(working_on)
        await self._queue.ack(entry_id)
        return 1

    async def _keepalive(self, thread_id: str, owner: str, entry_id: str) -> None:
        interval = min(self._leases.ttl_ms, self._limits.claim_ms) / 3000
        while True:
            await asyncio.sleep(interval)
            if not await self._leases.renew(thread_id, owner):
                log.error("lost the lease on thread %s while working on it", thread_id)
            await self._queue.touch(entry_id)
