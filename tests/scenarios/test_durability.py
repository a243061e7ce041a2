"""Crashes and restarts: a worker killed mid-step, Redis killed and restarted from its AOF,
and several workers sharing a burst of runs. Real processes, real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import ToolCall
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status
from bot.emulator.server import SlackEmulator
from bot.serving import free_port
from tests.conftest import ALICE, BOB, DEPLOYS, MakeBot
from tests.redis_servers import redis_process
from tests.support import approval_message, bot_replies, deployments, mention, worker_env


async def deploy_started(redis: Redis, root: str) -> str:
    """Wait until the thread's deploy call is saved (and so running); returns the thread id."""
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    for _ in range(500):
        thread = await ThreadStore(redis).load(thread_id)
        last = thread.events[-1] if thread else None
        if isinstance(last, ToolCall) and last.intent == "deploy":
            return thread_id
        await asyncio.sleep(0.02)
    raise AssertionError("the worker never started the deploy")


async def test_a_worker_killed_mid_step_is_taken_over_and_the_run_completes_once(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    timing = {"hitl_lease_ms": 1000, "hitl_job_claim_ms": 1500}
    survivor = await make_bot(**timing)  # its worker only runs when the test says so
    env = worker_env(
        slack,
        redis_server,
        HITL_SIMULATED_DEPLOY_SECONDS="30",  # the doomed worker is mid-deploy when killed
        HITL_LEASE_MS="1000",
        HITL_JOB_CLAIM_MS="1500",
    )
    doomed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    root = await mention(slack, "deploy web 2.0.1 to staging")
    await deploy_started(redis, root)
    await asyncio.sleep(0.2)
    doomed.send_signal(signal.SIGKILL)
    await doomed.wait()
    assert await deployments(redis) == []

    await asyncio.sleep(1.6)  # past the claim time: the job now looks abandoned
    assert await survivor.settle() == 1
    assert await deployments(redis) == [("web", "2.0.1", "staging")]
    assert "Deployed web 2.0.1 to staging" in bot_replies(slack, DEPLOYS, root)[-1].text
    pending = await redis.xpending(keys.jobs(), keys.JOBS_GROUP)
    assert pending["pending"] == 0


async def test_paused_threads_resume_after_redis_is_killed_and_restarted(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path
) -> None:
    port, data = free_port(), tmp_path / "aof"
    durable = ("--appendonly", "yes", "--appendfsync", "always")
    with redis_process(data, *durable, port=port):
        bot = await make_bot(redis_url=f"redis://127.0.0.1:{port}/0")
        root = await mention(slack, "deploy api 1.4.2 to production")
        await bot.settle()
        approval = approval_message(slack, DEPLOYS, root)
        info = await bot.services.redis.info("server")
        os.kill(int(info["process_id"]), signal.SIGKILL)  # no shutdown save: only the AOF

    with redis_process(data, *durable, port=port):
        response = await slack.click(user=BOB, message=approval, action_id="hitl_approve")
        assert response.status_code == 200
        await bot.settle()
        redis = Redis(port=port)
        assert await deployments(redis) == [("api", "1.4.2", "production")]
        await redis.aclose()
    assert "Deployed api 1.4.2" in bot_replies(slack, DEPLOYS, root)[-1].text


@pytest.mark.slow
async def test_three_workers_on_300_runs_repeat_nothing_and_lose_nothing(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    # 16 threads at a time per worker: with 64 each, three workers sharing this test's one
    # event loop slow down sharply past ~150 runs in flight (issue 15 looks at why).
    workers = [await make_bot(hitl_worker_concurrency=16) for _ in range(3)]
    runs = 300
    for batch in range(0, runs, 50):
        await asyncio.gather(
            *(
                slack.post_message(
                    user=ALICE,
                    channel=DEPLOYS,
                    text=f"<@{slack.identity.bot_user_id}> deploy svc{i} 1.0.{i} to staging",
                )
                for i in range(batch, batch + 50)
            )
        )
    handled = await asyncio.gather(*(w.settle() for w in workers))

    assert sum(handled) == runs and all(handled)  # every worker took a share
    deployed = await deployments(redis)
    assert sorted(deployed) == sorted((f"svc{i}", f"1.0.{i}", "staging") for i in range(runs))
    store = ThreadStore(redis)
    threads = [await store.load(t) for t in await store.thread_ids()]
    assert len(threads) == runs and all(t and t.status is Status.DONE for t in threads)
    roots = [m for m in slack.messages if m.thread_ts is None and m.user == ALICE]
    assert all(len(bot_replies(slack, DEPLOYS, m.ts)) == 1 for m in roots)


async def test_sigterm_lets_the_step_in_hand_finish_and_logs_are_json_with_the_thread(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    await make_bot()  # the Slack edge; the worker is a separate process
    env = worker_env(
        slack,
        redis_server,
        HITL_SIMULATED_DEPLOY_SECONDS="1.5",
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    root = await mention(slack, "deploy web 2.0.1 to staging")
    thread_id = await deploy_started(redis, root)
    worker.send_signal(signal.SIGTERM)  # mid-deploy
    _, err = await asyncio.wait_for(worker.communicate(), timeout=20)

    assert worker.returncode == 0
    assert await deployments(redis) == [("web", "2.0.1", "staging")]
    assert "Deployed web 2.0.1" in bot_replies(slack, DEPLOYS, root)[-1].text
    assert (await redis.xpending(keys.jobs(), keys.JOBS_GROUP))["pending"] == 0
    lines = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    handled = [line for line in lines if line.get("job") == "launch"]
    assert handled and handled[0]["thread_id"] == thread_id
