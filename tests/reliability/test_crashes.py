"""Crashes at volume: two worker processes SIGKILLed with a dozen runs in their hands, and Redis
SIGKILLed and restarted (from its AOF) while approvals wait and Slack keeps delivering."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agents.runtime.events import ToolCall
from agents.runtime.thread import Status
from bot.emulator.server import SlackEmulator
from bot.serving import free_port
from tests.conftest import ALICE, BOB, DEPLOYS, MakeBot
from tests.redis_servers import redis_process
from tests.reliability.support import (
    Tally,
    all_threads,
    dead_jobs,
    deployed,
    duplicates,
    pending_jobs,
)
from tests.support import approval_message, bot_replies, mention, worker_env

TIMING = {"hitl_lease_ms": 1000, "hitl_job_claim_ms": 1500}


def slow_worker_env(slack: SlackEmulator, redis_url: str, deploy_seconds: str) -> dict[str, str]:
    """A `hitl worker` with slow deploys and the short lease and claim times of TIMING."""
    return worker_env(
        slack,
        redis_url,
        HITL_SIMULATED_DEPLOY_SECONDS=deploy_seconds,
        HITL_LEASE_MS="1000",
        HITL_JOB_CLAIM_MS="1500",
    )


async def deploying(redis: Redis) -> int:
    """Threads whose last saved event is a deploy call: a worker is running it now."""
    return sum(
        isinstance(t.events[-1], ToolCall) and t.events[-1].intent == "deploy"
        for t in await all_threads(redis)
    )


async def test_two_workers_killed_with_a_dozen_runs_in_hand_lose_and_repeat_nothing(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str, tally: Tally
) -> None:
    survivors = [await make_bot(**TIMING), await make_bot(**TIMING)]
    env = slow_worker_env(slack, redis_server, deploy_seconds="30")  # killed mid-deploy
    doomed = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "worker", env=env, stderr=asyncio.subprocess.DEVNULL
        )
        for _ in range(2)
    ]
    runs = 12
    roots = [await mention(slack, f"deploy svc{i} 3.0.{i} to staging") for i in range(runs)]
    for _ in range(750):  # both doomed workers are in the middle of a deploy
        if await deploying(redis) >= 2:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the doomed workers never started deploying")
    in_flight = await pending_jobs(redis)
    for proc in doomed:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert await deployed(redis) == []

    await asyncio.sleep(1.6)  # past the claim time: their jobs look abandoned
    handled = await asyncio.gather(*(s.settle() for s in survivors))

    rows = await deployed(redis)
    threads = await all_threads(redis)
    expected = {(f"svc{i}", f"3.0.{i}", "staging") for i in range(runs)}
    tally.update(
        runs=runs,
        workers_killed=len(doomed),
        jobs_in_flight_at_kill=in_flight,
        jobs_run_by_survivors=sum(handled),
        deployments=len(rows),
        duplicates=duplicates(rows),
        losses=len(expected - set(rows)),
    )
    assert in_flight >= 2
    assert sorted(rows) == sorted(expected)
    assert len(threads) == runs and all(t.status is Status.DONE for t in threads)
    assert all(len(bot_replies(slack, DEPLOYS, root)) == 1 for root in roots)
    assert await pending_jobs(redis) == 0 and await dead_jobs(redis) == 0


@pytest.mark.slow
async def test_redis_killed_and_restarted_under_load_loses_and_repeats_nothing(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path, tally: Tally
) -> None:
    port, data = free_port(), tmp_path / "aof"
    durable = ("--appendonly", "yes", "--appendfsync", "always")
    waiting, queued = 6, 4
    with redis_process(data, *durable, port=port):
        bot = await make_bot(
            redis_url=f"redis://127.0.0.1:{port}/0", hitl_simulated_deploy_seconds=0.2
        )
        worker = asyncio.create_task(bot.services.worker.run())  # not burst: it must reconnect
        roots = [await mention(slack, f"deploy svc{i} 1.4.2 to production") for i in range(waiting)]
        await slack.wait_for(
            lambda: all(
                any("hitl_approve" in str(m.blocks) for m in bot_replies(slack, DEPLOYS, r))
                for r in roots
            ),
            timeout=15,
        )
        approvals = [approval_message(slack, DEPLOYS, r) for r in roots]
        # Runs queued and in progress when Redis dies.
        for i in range(queued):
            await mention(slack, f"deploy web 5.0.{i} to staging")
        info = await bot.services.redis.info("server")
        os.kill(int(info["process_id"]), signal.SIGKILL)  # no shutdown save: only the AOF
    await asyncio.sleep(1.5)  # the worker meets the outage and keeps retrying

    with redis_process(data, *durable, port=port):
        clicks = [
            await slack.click(user=BOB, message=a, action_id="hitl_approve") for a in approvals
        ]
        redis = Redis(port=port)
        expected = {(f"svc{i}", "1.4.2", "production") for i in range(waiting)}
        expected |= {("web", f"5.0.{i}", "staging") for i in range(queued)}
        for _ in range(600):
            if len(await deployed(redis)) >= len(expected):
                break
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.5)  # anything extra would show now
        rows = await deployed(redis)
        threads = await all_threads(redis)
        pending = await pending_jobs(redis)
        worker_survived = not worker.done()
        bot.services.worker.stop()
        await asyncio.wait_for(worker, timeout=10)
        await redis.aclose()

    tally.update(
        events_sent=waiting + queued,
        clicks_sent=len(clicks),
        runs=len(threads),
        deployments=len(rows),
        duplicates=duplicates(rows),
        losses=len(expected - set(rows)),
    )
    assert worker_survived
    assert [r.status_code for r in clicks] == [200] * waiting
    assert sorted(rows) == sorted(expected)  # no duplicate, no loss
    assert len(threads) == waiting + queued and all(t.status is Status.DONE for t in threads)
    assert pending == 0


@pytest.mark.slow
async def test_what_slack_sends_while_redis_is_down_is_never_acked_as_taken(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path, tally: Tally
) -> None:
    port = free_port()
    with redis_process(tmp_path / "aof", "--appendonly", "yes", port=port):
        bot = await make_bot(redis_url=f"redis://127.0.0.1:{port}/0")
        root = await mention(slack, "deploy api 1.4.2 to production")
        await bot.settle()
        approval = approval_message(slack, DEPLOYS, root)
    statuses = []
    for i in range(2):
        delivery = await slack.post_message(
            user=ALICE,
            channel=DEPLOYS,
            text=f"<@{slack.identity.bot_user_id}> deploy web 6.0.{i} to staging",
        )
        statuses.append(delivery.responses[0].status_code)  # the app_mention
        click = await slack.click(user=BOB, message=approval, action_id="hitl_approve")
        statuses.append(click.status_code)
    tally.update(sent=len(statuses), acked_200=statuses.count(200))
    assert 200 not in statuses, statuses
