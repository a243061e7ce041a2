"""How a worker shares out its slots. A job's lease renewals end with the job, even when the
cancel that ends them lands in a Redis call and comes out as a Redis error (redis-py can turn
a cancelled read or pool wait into one): before, the renewal loop took that for an outage and
went on forever, and the job, which waits for it, never finished: its slot was lost and the
worker could not stop. And a worker with room for hundreds of jobs takes a few at a time, so
two workers share a burst instead of the first reader taking it all."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from agents.runtime.lease import Leases
from agents.runtime.worker import Worker, WorkerLimits
from bot.emulator.server import SlackEmulator
from tests.agents.runtime.test_worker import SlowModel, done
from tests.conftest import MakeBot
from tests.support import mention


class CancelAsRedisError(Leases):
    """Renewals that hang until cancelled, then fail as a Redis error, not as a cancel."""

    async def renew(self, thread_id: str, owner: str) -> bool:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError as exc:
            raise ConnectionError("Connection closed by server.") from exc
        return True


async def test_a_cancel_turned_into_a_redis_error_still_ends_the_renewals_and_the_job(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(model=SlowModel(0.3))
    services, old = bot.services, bot.services.worker
    worker = Worker(
        queue=services.queue,
        runtime=services.runtime,
        deadlines=old._deadlines,
        # Renewed every 0.1 s, so a renewal is under way whenever the job ends.
        leases=CancelAsRedisError(redis, ttl_ms=300),
        limits=WorkerLimits(),
    )
    root = await mention(slack, "deploy web 1.0.1 to staging")

    handled = await asyncio.wait_for(worker.run(burst=True), timeout=20)

    assert handled >= 1
    assert await done(redis, root)


async def test_a_worker_with_room_for_hundreds_takes_a_few_jobs_per_read(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    services, old = bot.services, bot.services.worker
    await asyncio.gather(*(mention(slack, f"deploy svc{i} 1.0.{i} to staging") for i in range(40)))
    worker = Worker(
        queue=services.queue,
        runtime=services.runtime,
        deadlines=old._deadlines,
        leases=old._leases,
        limits=WorkerLimits(concurrency=256),  # room for every job in one read
    )

    first = await worker._jobs(256, burst=True)
    second = await worker._jobs(256, burst=True)

    # Before, the first read took all 40, and a second worker would have found none.
    assert (len(first), len(second)) == (32, 8)
