"""Per-thread leases: while a worker holds one, no other worker advances that thread. A lease
expires on its own (the holder renews it while working), so a crashed worker blocks nobody for
longer than one lease time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from agents.runtime import keys

# KEYS: the lease. ARGV: owner, ttl ms. Renew or release only a lease we still own.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

POLL = 0.02


class Leases:
    def __init__(self, redis: Redis, *, ttl_ms: int) -> None:
        self._redis = redis
        self.ttl_ms = ttl_ms
        self._renew: Any = redis.register_script(_RENEW)
        self._release: Any = redis.register_script(_RELEASE)

    async def acquire(self, thread_id: str, owner: str, *, wait_ms: int = 0) -> bool:
        """Take the thread's lease, waiting up to `wait_ms` for its holder to finish (the
        worker does not wait: it re-schedules the job and gets on with other threads)."""
        deadline = time.monotonic() + wait_ms / 1000
        while True:
            if await self._redis.set(keys.lease(thread_id), owner, nx=True, px=self.ttl_ms):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL)

    async def renew(self, thread_id: str, owner: str) -> bool:
        return bool(await self._renew(keys=[keys.lease(thread_id)], args=[owner, self.ttl_ms]))

    async def release(self, thread_id: str, owner: str) -> None:
        await self._release(keys=[keys.lease(thread_id)], args=[owner])
