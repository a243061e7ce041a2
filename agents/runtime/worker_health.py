"""How a worker is doing, in words an operator can act on, and the one-line-per-outage log.

Read from other threads (the web server's /healthz asks a worker that runs on its own event
loop), so the state is a few plain attributes, each replaced in one assignment."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.exceptions import RedisError, ResponseError

log = logging.getLogger("agents.runtime.worker")

BACKOFF_FIRST = 0.1
BACKOFF_CAP = 5.0


@dataclass(frozen=True)
class WorkerHealth:
    """`ok` when the worker can take jobs; otherwise `redis` and `worker` say why."""

    ok: bool
    redis: str
    worker: str

    def as_json(self) -> dict[str, str | bool]:
        return {"ok": self.ok, "redis": self.redis, "worker": self.worker}


def is_redis_trouble(exc: BaseException) -> bool:
    """A Redis error (here or as the cause of another error): the job can run again later."""
    seen: BaseException | None = exc
    for _ in range(5):  # a short cause chain; never loop on a cyclic one
        if seen is None:
            return False
        if isinstance(seen, RedisError | ConnectionError | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_missing_group(exc: BaseException) -> bool:
    """NOGROUP: the stream or its consumer group is gone (deleted, flushed, Redis restarted
    without persistence)."""
    return isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP")


class Outage:
    """Tracks one Redis outage at a time: one warning when it starts, one info line with its
    length when it ends, never one line per retry."""

    def __init__(self) -> None:
        self.since: float | None = None
        self._tries = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            # The class name only: redis-py's messages carry hosts and ports.
            log.warning("Redis unavailable (%s); the worker waits and retries", type(exc).__name__)

    def ended(self) -> None:
        self._tries = 0
        if self.since is not None:
            seconds = time.monotonic() - self.since
            self.since = None
            log.info("Redis is back after %.1fs; the worker carries on", seconds)

    def next_delay(self) -> float:
        """Seconds to wait before the next try: 0.1 doubling up to 5."""
        delay: float = min(BACKOFF_CAP, BACKOFF_FIRST * 2.0**self._tries)
        self._tries = min(self._tries + 1, 16)  # 2**16 * 0.1 is past the cap already
        return delay
