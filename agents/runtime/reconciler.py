"""The reconciler: nothing is stuck without someone knowing.

Every thread is waiting on named people, done, paused, or has a job in flight. A crash between
two steps, a job lost with a Redis that restarted without its data, or a delivery whose retry
was lost can break that; each worker runs `reconcile()` every few seconds (one pass at a time
across workers) and repairs it: a thread that is running, or has events not yet shown to
people, with no worker holding its lease and nothing done on it for `grace` seconds, gets an
`Advance` job. Advancing is idempotent, so a repair that races a slow job costs one no-op.
The number found is the `hitl_stuck_threads` gauge; `hitl threads list --stuck` lists them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.jobs import Advance, JobQueue
from agents.runtime.metrics import Metrics
from agents.runtime.store import ThreadState, ThreadStore
from agents.runtime.thread import Status

log = logging.getLogger(__name__)


def needs_work(state: ThreadState) -> bool:
    """Whether a worker still has something to do for the thread: steps or deliveries."""
    return state.status == Status.RUNNING.value or state.undelivered > 0


async def stuck_threads(
    redis: Redis, store: ThreadStore, *, grace: float, now: float
) -> list[ThreadState]:
    """Threads with work to do, no worker holding their lease, and nothing done on them for
    `grace` seconds (a planned delivery retry counts as something done until it is due)."""
    candidates = [
        state async for state in store.states() if needs_work(state) and state.touched + grace < now
    ]
    if not candidates:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for state in candidates:
            pipe.exists(keys.lease(state.thread_id))
        held: list[Any] = await pipe.execute()
    return [state for state, lease in zip(candidates, held, strict=True) if not lease]


class Reconciler:
    def __init__(
        self,
        *,
        redis: Redis,
        store: ThreadStore,
        queue: JobQueue,
        metrics: Metrics,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._store = store
        self._queue = queue
        self._metrics = metrics
        self._interval = interval
        self._clock = clock

    async def reconcile(self) -> int:
        """One pass: send a job for every stuck thread. Returns how many were stuck (0 when
        another worker runs this period's pass)."""
        window = max(1, int(self._interval * 800))  # ms; a little under one interval
        if not await self._redis.set(keys.reconciling(), "1", nx=True, px=window):
            return 0
        # Grace: how long a thread may sit with work to do and nobody on it.
        stuck = await stuck_threads(
            self._redis, self._store, grace=self._interval, now=self._clock()
        )
        await self._redis.set(keys.stuck_count(), len(stuck), ex=max(60, int(self._interval * 3)))
        for state in stuck:
            # One repair per thread per grace period, however many workers look.
            repair_key = keys.seen("repair", state.thread_id)
            if await self._redis.set(repair_key, "1", nx=True, px=window):
                log.warning(
                    "thread %s is stuck (%s, %d undelivered); sending it a job",
                    state.thread_id,
                    state.status,
                    state.undelivered,
                )
                await self._queue.enqueue(Advance(thread_id=state.thread_id, reason="reconciler"))
                self._metrics.repairs.inc()
        return len(stuck)
