"""Redis under the workers' feet: killed and restarted from its AOF, gone for 10 seconds, and a
quiet week after which the job stream (and its consumer group) has expired. Real `hitl worker`
processes; they must all still be alive afterwards and every run must end exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agents.runtime import keys
from bot.emulator.server import SlackEmulator
from tests.conftest import MakeBot
from tests.reliability.chaos import (
    BOT_FAST,
    Cycles,
    DedicatedRedis,
    WorkerPool,
    assert_clean,
    wait_until,
    workers,
)
from tests.reliability.support import Tally

RUNS = 10
AFTERWARDS = 4
"""Cycles started once Redis is back, to prove the workers still work."""
SLOW_DEPLOY = {"HITL_SIMULATED_DEPLOY_SECONDS": "0.2"}
"""Deploys slow enough that some are running when Redis goes away."""


@contextlib.asynccontextmanager
async def two_workers_on_their_own_redis(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path
) -> AsyncIterator[tuple[DedicatedRedis, WorkerPool]]:
    """A redis-server of the test's own (to kill and stop), the bot's HTTP side and two
    `hitl worker` processes on it."""
    server = DedicatedRedis(tmp_path / "aof")
    server.start()
    try:
        await make_bot(redis_url=server.url, **BOT_FAST)
        async with workers(slack, server.url, tmp_path / "logs", 2, **SLOW_DEPLOY) as pool:
            yield server, pool
    finally:
        server.stop()


async def audit(server: DedicatedRedis, cycles: Cycles, slack: SlackEmulator, tally: Tally) -> None:
    redis = Redis.from_url(server.url)
    try:
        await cycles.audit(slack, redis, tally)
    finally:
        await redis.aclose()


async def survive(pool: WorkerPool, cycles: Cycles, slack: SlackEmulator, tally: Tally) -> None:
    """Every run shows its result, and the workers still take new work: a live process whose
    loop has ended would strand the fresh cycles. Then count."""
    await wait_until(lambda: cycles.done(slack), seconds=20)
    fresh = range(len(cycles.roots), len(cycles.roots) + AFTERWARDS)
    await cycles.launch(slack, fresh)
    await cycles.approve(slack, fresh, seconds=8)
    await wait_until(lambda: cycles.done(slack), seconds=8)
    await asyncio.sleep(0.5)  # a late duplicate shows now
    tally.update(workers_started=pool.started, workers_alive=len(pool.alive()))


@pytest.mark.timeout(90)
async def test_redis_killed_and_restarted_in_the_middle_of_10_cycles(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path, tally: Tally
) -> None:
    cycles = Cycles()
    async with two_workers_on_their_own_redis(slack, make_bot, tmp_path) as (server, pool):
        await cycles.launch(slack, range(RUNS))
        await cycles.approve(slack, range(RUNS // 2), seconds=10)
        await asyncio.sleep(0.3)  # decisions and deploys in the workers' hands
        server.kill()
        await asyncio.sleep(1.0)
        server.start()
        await cycles.approve(slack, range(RUNS // 2, RUNS), seconds=15)
        await survive(pool, cycles, slack, tally)
        await audit(server, cycles, slack, tally)
    assert tally["workers_alive"] == 2, tally.line()
    assert_clean(tally)


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_10_second_redis_outage_in_the_middle_of_10_cycles_ends_no_worker(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path, tally: Tally
) -> None:
    cycles = Cycles()
    async with two_workers_on_their_own_redis(slack, make_bot, tmp_path) as (server, pool):
        await cycles.launch(slack, range(RUNS))
        await cycles.approve(slack, range(RUNS), seconds=10)
        await asyncio.sleep(0.3)  # some decisions and deploys in the workers' hands
        server.stop()
        await asyncio.sleep(10)
        tally.update(workers_alive_in_outage=len(pool.alive()))
        server.start()
        await survive(pool, cycles, slack, tally)
        await audit(server, cycles, slack, tally)
    assert tally["workers_alive"] == 2, tally.line()
    assert_clean(tally)


@pytest.mark.parametrize("quiet_week", ["stream_ttl_expired", "group_destroyed"])
async def test_after_a_quiet_week_without_the_job_stream_a_new_mention_is_still_handled(
    quiet_week: str,
    slack: SlackEmulator,
    make_bot: MakeBot,
    redis: Redis,
    redis_server: str,
    tmp_path: Path,
    tally: Tally,
) -> None:
    await make_bot(**BOT_FAST)
    cycles = Cycles()
    async with workers(slack, redis_server, tmp_path / "logs", 1) as pool:
        await cycles.launch(slack, [0])
        await cycles.approve(slack, [0], seconds=10)
        assert await wait_until(lambda: cycles.done(slack), seconds=10)
        # Seven days without a job: the stream's TTL runs out and takes its group along
        # (compressed to a 50 ms TTL), or an operator destroys the group.
        if quiet_week == "stream_ttl_expired":
            # As an older version's stream TTL would: the stream goes, and its group with it
            # (a running worker recreates both within moments).
            await redis.pexpire(keys.jobs(), 50)
            await asyncio.sleep(0.2)
        else:
            await redis.xgroup_destroy(keys.jobs(), keys.JOBS_GROUP)
        await asyncio.sleep(1.5)  # the worker meets the missing group at least once
        await survive(pool, cycles, slack, tally)
        await cycles.audit(slack, redis, tally)
    assert tally["workers_alive"] == 1, tally.line()
    assert_clean(tally)
