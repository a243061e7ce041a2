"""A worker takes jobs from the stream and hands them to the runtime. `burst` runs until the
stream is empty and returns, which keeps tests deterministic."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from redis.exceptions import RedisError

from agents.deadlines import Deadlines
from agents.events import utcnow
from agents.jobs import JobQueue
from agents.runtime import Runtime

log = logging.getLogger(__name__)

RETRY_DELAY = 1.0


class Worker:
    def __init__(
        self,
        *,
        queue: JobQueue,
        runtime: Runtime,
        deadlines: Deadlines,
        clock: Callable[[], datetime] = utcnow,
        block_ms: int = 1000,
    ) -> None:
        self._queue = queue
        self._runtime = runtime
        self._deadlines = deadlines
        self._clock = clock
        self._block_ms = block_ms
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, *, burst: bool = False) -> int:
        """Handle jobs until stopped (or, with `burst`, until none are left). Returns the count."""
        await self._queue.setup()
        handled = 0
        while not self._stopping.is_set():
            try:
                # Due deadlines become jobs first; any worker may fire them, once each.
                await self._deadlines.fire_due(self._clock())
                taken = await self._queue.take(block_ms=None if burst else self._block_ms)
            except RedisError:
                if burst:
                    raise
                log.warning("Redis unavailable; retrying in %.0fs", RETRY_DELAY, exc_info=True)
                await asyncio.sleep(RETRY_DELAY)
                continue
            if not taken and burst:
                break
            for entry_id, job in taken:
                try:
                    await self._runtime.handle(job)
                except Exception:
                    # Left unacknowledged: the job stays pending in the group for a retry.
                    log.exception("job %s (%s) failed", entry_id, job.kind)
                    continue
                await self._queue.ack(entry_id)
                handled += 1
        return handled
