"""A worker takes jobs from the stream and runs many threads at once, one step at a time each.

- Up to `concurrency` jobs run as asyncio tasks. A job runs under its thread's lease, so two
  jobs never advance one thread at once; a job whose thread is busy is re-scheduled a moment
  later (jobs are idempotent) instead of holding up other threads or waiting out a claim.
- While a job runs, the worker renews the lease and touches the job so neither looks abandoned.
  Jobs of a consumer that died are reclaimed after `claim_ms` (XAUTOCLAIM); a job that failed
  `max_attempts` times goes to the dead-letter stream.
- Redis trouble never ends the loop: it backs off (0.1 s doubling to 5 s), logs one warning per
  outage and one line when Redis is back, and re-runs the jobs that Redis interrupted. A missing
  consumer group (NOGROUP) is recreated.
- `burst` runs until the stream, the re-scheduled busy jobs and every task are done, which keeps
  tests deterministic; `stop()` lets the jobs in hand finish first (graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from agents.runtime.handling import Runtime
from agents.runtime.jobs import JobQueue, Taken, thread_of
from agents.runtime.lease import Leases
from agents.runtime.worker_health import Outage, WorkerHealth, is_missing_group, is_redis_trouble

log = logging.getLogger(__name__)

current_thread: ContextVar[str | None] = ContextVar("current_thread", default=None)
"""The thread this task is working on, for log lines (see bot/logs.py)."""

Reconcile = Callable[[], Awaitable[int]]
"""Finds stuck threads and sends them jobs; returns how many it repaired."""

BURST_POLL = 0.05
"""In burst mode, how often to look for jobs while tasks run."""


@dataclass(frozen=True)
class WorkerLimits:
    claim_ms: int = 60_000
    """A job untouched this long belongs to a dead worker and is taken over."""
    max_attempts: int = 5
    block_ms: int = 1000
    concurrency: int = 512
    """Jobs (so threads) one worker runs at once."""
    read_count: int = 32
    """Jobs taken per read of the stream, however many slots are free: a worker with room
    for hundreds would otherwise take a whole burst, leaving none for the other workers."""
    busy_retry_seconds: float = 0.2
    """A job whose thread is busy runs again this much later."""
    reconcile_seconds: float = 10.0


MAX_IN_TURN = 32
"""Jobs of one thread a worker holds at once: one running, the rest waiting their turn."""


@dataclass
class _Turn:
    """The jobs of one thread in a worker's hands: they take `lock` one at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    jobs: int = 0


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
        reconcile: Reconcile | None = None,
    ) -> None:
        self._queue = queue
        self._runtime = runtime
        self._deadlines = deadlines
        self._leases = leases
        self._limits = limits
        self._clock = clock
        self._reconcile = reconcile
        self._stopping = asyncio.Event()
        self._outage = Outage()
        self._running = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._interrupted: dict[str, Taken] = {}  # jobs Redis broke off, to run again
        self._retries_due = 0.0  # unix time the last of our busy re-schedules comes due
        self._turns: dict[str, _Turn] = {}  # threads this worker has jobs of in hand
        self._reconciled_at = 0.0
        self._handled = 0

    def stop(self) -> None:
        self._stopping.set()

    def health(self) -> WorkerHealth:
        """Whether this worker can take jobs now; safe to call from any thread."""
        if self._outage.down:
            return WorkerHealth(ok=False, redis="unreachable", worker="waiting for Redis")
        if not self._running:
            return WorkerHealth(ok=False, redis="ok", worker="not running")
        return WorkerHealth(ok=True, redis="ok", worker="running")

    async def run(self, *, burst: bool = False) -> int:
        """Handle jobs until stopped (or, with `burst`, until none are left). Returns how many
        were handled. Only a burst run raises on Redis errors, so a test sees them."""
        self._running, self._handled, self._reconciled_at = True, 0, 0.0
        try:
            await self._loop(burst=burst)
        finally:
            # Drain: the jobs in hand finish (SIGTERM), whatever ended the loop.
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            self._running = False
        return self._handled

    async def _loop(self, *, burst: bool) -> None:
        await self._setup(burst=burst)
        while not self._stopping.is_set():
            try:
                more = await self._pass(burst=burst)
                self._outage.ended()
            except Exception as exc:
                if is_missing_group(exc):
                    log.warning("the job stream's consumer group was missing; recreating it")
                    await self._setup(burst=burst)
                    continue
                if burst or not is_redis_trouble(exc):
                    raise
                self._outage.failed(exc)
                await self._pause(self._outage.next_delay())
                continue
            if burst and not more:
                return

    async def _setup(self, *, burst: bool) -> None:
        while not self._stopping.is_set():
            try:
                await self._queue.setup()
                return
            except Exception as exc:
                if burst or not is_redis_trouble(exc):
                    raise
                self._outage.failed(exc)
                await self._pause(self._outage.next_delay())

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _pass(self, *, burst: bool) -> bool:
        """Fire due deadlines, start what there is room for; False when a burst is done."""
        await self._deadlines.fire_due(self._clock())
        fired_until = time.time()
        await self._queue.fire_retries(fired_until)
        await self._maybe_reconcile(burst=burst)
        free = self._limits.concurrency - len(self._tasks)
        if free <= 0:
            await self._wait_for_a_task(seconds=self._limits.block_ms / 1000)
            return True
        started = await self._start(await self._jobs(free, burst=burst))
        if not burst or started:
            return True
        if self._tasks:
            await self._wait_for_a_task(seconds=BURST_POLL)
            return True
        if fired_until < self._retries_due:  # some of ours were not due when this pass fired
            await asyncio.sleep(min(BURST_POLL, self._retries_due - fired_until))
            return True
        return await self._reconcile_at_end()

    async def _jobs(self, free: int, *, burst: bool) -> list[Taken]:
        free = min(free, self._limits.read_count)
        if self._interrupted:
            again = list(self._interrupted.values())[:free]
            for taken in again:
                del self._interrupted[taken.entry_id]
            return again
        orphans = await self._queue.reclaim(min_idle_ms=self._limits.claim_ms, count=free)
        if orphans:
            log.warning("took over %d job(s) of a worker that stopped answering", len(orphans))
            return orphans
        # Tasks run while this blocks; a new job ends the wait at once.
        block = None if burst else self._limits.block_ms
        return await self._queue.take(block_ms=block, count=free)

    async def _start(self, jobs: list[Taken]) -> int:
        started = 0
        for taken in jobs:
            entry_id = taken.entry_id
            if entry_id in self._tasks:
                continue  # reclaimed from ourselves while still running
            task = asyncio.create_task(self._handle(taken))
            self._tasks[entry_id] = task
            task.add_done_callback(lambda _, e=entry_id: self._tasks.pop(e, None))  # type: ignore[misc]
            started += 1
        return started

    async def _wait_for_a_task(self, *, seconds: float) -> None:
        if self._tasks:
            await asyncio.wait(
                list(self._tasks.values()), timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        else:
            await asyncio.sleep(seconds)

    async def _maybe_reconcile(self, *, burst: bool) -> None:
        if burst or self._reconcile is None:
            return
        if time.monotonic() - self._reconciled_at >= self._limits.reconcile_seconds:
            self._reconciled_at = time.monotonic()
            await self._call_reconcile()

    async def _reconcile_at_end(self) -> bool:
        """A burst calls the reconciler once, when all else is done; its jobs run too."""
        if self._reconcile is None or self._reconciled_at:
            return False
        self._reconciled_at = time.monotonic()
        return await self._call_reconcile() > 0

    async def _call_reconcile(self) -> int:
        assert self._reconcile is not None
        try:
            return await self._reconcile()
        except Exception:
            log.exception("the reconciler failed; the next interval tries again")
            return 0

    async def _handle(self, taken: Taken) -> None:
        entry_id, job, thread_id = taken.entry_id, taken.job, thread_of(taken.job)
        owner = f"{self._queue.consumer}/{entry_id}"
        working_on = current_thread.set(thread_id)
        turn = self._turns.setdefault(thread_id, _Turn())
        turn.jobs += 1
        try:
            # Jobs of one thread that this worker took run one after another here, rather than
            # each finding the lease held and coming back busy_retry_seconds later (a storm of
            # clicks on one card is a burst of one thread's jobs). Past MAX_IN_TURN waiting,
            # the rest are re-scheduled as before, so one thread never fills the worker.
            if turn.jobs > MAX_IN_TURN:
                await self._retry_busy(taken, thread_id)
                return
            async with turn.lock:
                if await self._leases.acquire(thread_id, owner):
                    await self._run_leased(taken, thread_id, owner)
                else:
                    await self._retry_busy(taken, thread_id)
        except Exception as exc:
            if not is_redis_trouble(exc):
                log.exception("job %s (%s) crashed the worker task", entry_id, job.kind)
                return
            # Redis broke it off (a failed step, save or ack): it runs again once Redis answers.
            self._interrupted[entry_id] = taken
            self._outage.failed(exc)
        finally:
            turn.jobs -= 1
            if turn.jobs == 0:
                del self._turns[thread_id]
            current_thread.reset(working_on)

    async def _retry_busy(self, taken: Taken, thread_id: str) -> None:
        delay = self._limits.busy_retry_seconds
        at = time.time() + delay
        await self._queue.retry_later(taken, at=at)
        self._retries_due = max(self._retries_due, at)
        log.info("thread %s is busy; job %s runs again in %.1fs", thread_id, taken.key, delay)

    async def _run_leased(self, taken: Taken, thread_id: str, owner: str) -> None:
        entry_id = taken.entry_id
        done = asyncio.Event()
        keepalive = asyncio.create_task(self._keepalive(thread_id, owner, entry_id, done))
        try:
            if not await self._run_job(taken):
                return
        finally:
            # The event, not only the cancel, ends the renewals: a cancel that lands in a
            # Redis call can come out as a Redis error, which the loop would take for an
            # outage and carry on, holding this job (and its slot) forever.
            done.set()
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            await self._release(thread_id, owner)
        await self._queue.ack(entry_id)
        self._handled += 1

    async def _run_job(self, taken: Taken) -> bool:
        """Run the job; False when it failed (it stays pending, or is buried)."""
        entry_id, job = taken.entry_id, taken.job
        attempt = await self._queue.started(entry_id)
        try:
            started = time.perf_counter()
            await self._runtime.handle(job, key=taken.key)
        except Exception as exc:
            if is_redis_trouble(exc):
                raise
            log.exception("job %s (%s) failed, attempt %d", entry_id, job.kind, attempt)
            if attempt >= self._limits.max_attempts:
                await self._queue.bury(entry_id, job.model_dump_json(), repr(exc))
            return False
        seconds = round(time.perf_counter() - started, 3)
        log.info("handled a %s job", job.kind, extra={"job": job.kind, "seconds": seconds})
        return True

    async def _release(self, thread_id: str, owner: str) -> None:
        try:
            await self._leases.release(thread_id, owner)
        except Exception as exc:
            if not is_redis_trouble(exc):
                raise
            # The lease expires by itself; until then the thread's jobs are re-scheduled.
            self._outage.failed(exc)

    async def _keepalive(
        self, thread_id: str, owner: str, entry_id: str, done: asyncio.Event
    ) -> None:
        interval = min(self._leases.ttl_ms, self._limits.claim_ms) / 3000
        while not await _wait(done, interval):
            try:
                if not await self._leases.renew(thread_id, owner):
                    log.error("lost the lease on thread %s while working on it", thread_id)
                await self._queue.touch(entry_id)
            except Exception as exc:
                if not is_redis_trouble(exc):
                    raise
                self._outage.failed(exc)


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` was set within `seconds`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
    return event.is_set()
