"""The worker against a real Redis: many threads at once, busy threads re-scheduled instead of
waiting, a lost consumer group recreated, the reconcile hook, no TTL on the job stream, lease
renewals that end with their job, and a few jobs taken per read."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError

from agents.models.offline import OfflineModel
from agents.runtime import keys
from agents.runtime.lease import Leases
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status
from agents.runtime.types import ModelReply, ModelRequest
from agents.runtime.worker import Worker, WorkerLimits
from bot.agent_loading import BUILT_IN, load_agents
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, BotProcess, MakeBot
from tests.support import bot_replies, deployments, mention


class SlowModel:
    """The offline planner, one second per step: a model that takes its time."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._model = OfflineModel(load_agents(BUILT_IN))

    async def next_step(self, request: ModelRequest) -> ModelReply:
        await asyncio.sleep(self._seconds)
        return await self._model.next_step(request)


def worker_of(bot: BotProcess, *, reconcile: object = None, **limits: float) -> Worker:
    """A worker on the bot's parts with other limits (or a reconcile hook)."""
    services, old = bot.services, bot.services.worker
    return Worker(
        queue=services.queue,
        runtime=services.runtime,
        deadlines=old._deadlines,
        leases=old._leases,
        limits=WorkerLimits(**limits),  # type: ignore[arg-type]
        reconcile=reconcile,  # type: ignore[arg-type]
    )


async def done(redis: Redis, root: str) -> bool:
    thread = await ThreadStore(redis).load(
        thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    )
    return thread is not None and thread.status is Status.DONE


async def test_fifty_threads_with_a_one_second_model_run_at_once_on_one_worker(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(model=SlowModel(1.0))
    roots = await asyncio.gather(
        *(mention(slack, f"deploy svc{i} 1.0.{i} to staging") for i in range(50))
    )
    started = time.monotonic()
    assert await bot.settle() == 50
    elapsed = time.monotonic() - started

    # One at a time this is 50 threads x (at least) one model second each.
    assert elapsed < 25, elapsed
    assert len(await deployments(redis)) == 50
    assert all([await done(redis, root) for root in roots])


async def test_a_job_for_a_busy_thread_does_not_hold_up_others_nor_wait_for_the_claim(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_lease_ms=1000)  # longer than any wait for a lease would be
    busy_root = await mention(slack, "deploy web 2.0.1 to staging")
    busy = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=busy_root))
    # Another worker (gone quiet) holds the thread for a long time.
    await redis.set(keys.lease(busy), "someone-else", px=30_000)
    free_root = await mention(slack, "deploy api 1.4.2 to staging")
    worker = asyncio.create_task(bot.services.worker.run())
    try:
        await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, free_root)), timeout=5)
        await asyncio.sleep(1.5)  # past a lease time: the busy job neither ran nor gave up
        assert not await done(redis, busy_root)
        assert await redis.zcard(keys.job_retries()) + await redis.xlen(keys.jobs()) > 0

        await redis.delete(keys.lease(busy))  # the holder lets go
        started = time.monotonic()
        await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, busy_root)), timeout=10)
        assert time.monotonic() - started < 5  # a moment, not the 60 s claim
    finally:
        bot.services.worker.stop()
        await asyncio.wait_for(worker, timeout=10)
    pending = await redis.xpending(keys.jobs(), keys.JOBS_GROUP)
    assert pending["pending"] == 0


async def test_two_jobs_of_one_thread_in_one_burst_both_run_one_after_the_other(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    roots = [await mention(slack, f"deploy svc{i} 1.0.{i} to staging") for i in range(3)]
    reply = await slack.post_message(user=ALICE, channel=DEPLOYS, text="thanks", thread_ts=roots[0])
    assert reply.responses == [] or all(r.status_code == 200 for r in reply.responses)

    assert await bot.settle() >= 3
    assert await redis.zcard(keys.job_retries()) == 0
    assert all([await done(redis, root) for root in roots])


async def test_a_deleted_job_stream_and_group_are_recreated_and_jobs_run_again(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot()
    worker = asyncio.create_task(bot.services.worker.run())
    try:
        first = await mention(slack, "deploy web 2.0.1 to staging")
        await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, first)), timeout=5)
        await redis.delete(keys.jobs())  # a flush, an old TTL, a restart without persistence

        second = await mention(slack, "deploy api 1.4.2 to staging")
        await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, second)), timeout=10)
    finally:
        bot.services.worker.stop()
        await asyncio.wait_for(worker, timeout=10)
    assert not worker.exception()
    assert "consumer group was missing" in caplog.text


async def test_the_job_streams_have_no_ttl_only_a_maxlen(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    await redis.expire(keys.jobs(), 3600)  # as an earlier version left it
    await bot.services.queue.setup()
    await mention(slack, "deploy web 2.0.1 to staging")
    await bot.settle()
    await bot.services.queue.bury("0-1", "{}", "test")

    assert await redis.ttl(keys.jobs()) == -1  # a TTL would take the consumer group with it
    assert await redis.ttl(keys.dead_jobs()) == -1


async def test_the_reconcile_hook_runs_once_per_burst_and_its_failures_are_not_fatal(
    make_bot: MakeBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await make_bot()
    calls: list[float] = []

    async def reconcile() -> int:
        calls.append(time.monotonic())
        if len(calls) % 2 == 0:
            raise RuntimeError("reconciler broke")
        return 0

    worker = worker_of(bot, reconcile=reconcile, reconcile_seconds=0.05, block_ms=20)
    assert await worker.run(burst=True) == 0
    assert len(calls) == 1

    worker = worker_of(bot, reconcile=reconcile, reconcile_seconds=0.05, block_ms=20)
    running = asyncio.create_task(worker.run())
    with caplog.at_level(logging.ERROR, logger="agents.runtime.worker"):
        await asyncio.sleep(0.6)
    worker.stop()
    await asyncio.wait_for(running, timeout=5)
    assert len(calls) >= 4  # every interval, failures or not
    assert "the reconciler failed" in caplog.text


async def test_health_says_not_running_until_the_loop_runs(make_bot: MakeBot) -> None:
    bot = await make_bot()
    worker = worker_of(bot, block_ms=20)
    assert worker.health().ok is False and worker.health().worker == "not running"
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.1)
    assert worker.health().ok is True
    worker.stop()
    await asyncio.wait_for(running, timeout=5)
    assert worker.health().worker == "not running"


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


async def test_a_burst_of_one_threads_jobs_runs_in_turn_without_busy_retries(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # A storm of clicks on one card is a burst of one thread's jobs: they wait their turn in
    # the worker that took them instead of each coming back busy_retry_seconds later.
    bot = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    (card,) = [m for m in bot_replies(slack, DEPLOYS, root) if m.blocks]
    strangers = [f"U0X{i:02d}" for i in range(20)]
    for user in strangers:
        slack.add_user(user, user.lower())
    users = [BOB, CAROL, *strangers]  # one decision, then refusals
    await asyncio.gather(
        *(slack.click(user=u, message=card, action_id="hitl_approve") for u in users)
    )
    with caplog.at_level(logging.INFO, logger="agents.runtime.worker"):
        handled = await bot.settle()
    assert handled >= len(users)
    assert not [r for r in caplog.records if "is busy" in r.getMessage()]
    assert await deployments(redis) == [("api", "1.4.2", "production")]
