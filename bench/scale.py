"""5. Scale: resumes per second with 1, 2 and 4 workers over many paused threads, and Redis memory
per paused thread.

Paused threads are made through the real path (`real` of them): a signed `app_mention` from the
Slack emulator into the bot's HTTP app (Bolt), a Launch job on the stream, a worker stepping the
offline model until the deploy to production waits for approval (approval message posted to the
emulator). Resumes are the Decide jobs an Approve click enqueues, taken by k worker processes
started as in production (`python -m bot worker`, i.e. `hitl worker`, offline model) once they
are all reading the stream; the clock stops when every deploy has run (simulated adapter) and
every job is acked. Each resume also updates the approval message and posts the result to the
emulator, which runs in this process: on a 2-core machine the emulator, Redis and the workers
share the two cores.

The full path makes about 20 threads/s on a 2-core machine, too slow to make 10,000 within the
time box, so the rest are copies of the real ones under new thread ids (the thread hash, its
request-message key and its deadlines, written with the store's own functions). Memory per
paused thread is measured over the real ones only, where every key the bot writes is present.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import call_hash
from agents.runtime.jobs import Decide
from agents.runtime.outbox import DeliveryLedger
from bench.common import (
    ALICE,
    BOB,
    BOT_TOKEN,
    DEPLOYS,
    SIGNING_SECRET,
    Row,
    emulator,
    redis_url,
    services,
)
from bot.emulator.server import SlackEmulator
from bot.services import Services
from bot.serving import start_server

TARGET_BYTES = 2048
WORKER_COUNTS = (1, 2, 4)


async def _launch(slack: SlackEmulator, count: int, *, first: int) -> None:
    mention = f"<@{slack.identity.bot_user_id}>"
    for start in range(0, count, 50):  # 50 deliveries in flight at a time
        await asyncio.gather(
            *(
                slack.post_message(
                    user=ALICE, channel=DEPLOYS, text=f"{mention} deploy svc{i} 1.4.2 to production"
                )
                for i in range(first + start, first + min(start + 50, count))
            )
        )


async def _drain(workers: list[Services]) -> int:
    return sum(await asyncio.gather(*(w.worker.run(burst=True) for w in workers)))


async def _clone(bot: Services, source: list[str], total: int) -> list[str]:
    """Copies of the paused threads in `source` under new ids until there are `total`."""
    ids = list(source)
    n = 0
    while len(ids) < total:
        original = await bot.store.load(source[n % len(source)])
        assert original is not None
        request = original.open_request()
        assert request is not None and request.terms is not None
        copy = original.model_copy(update={"id": f"c{n:011d}", "version": 0})
        assert await bot.store.create(copy)
        ledger = DeliveryLedger(bot.redis)
        ref = await ledger.request_message(original.id, request.call_id)
        assert ref is not None
        await ledger.set_request_message(copy.id, request.call_id, *ref)
        await bot.store.mark_delivered(copy.id, len(copy.events))  # shown, like the original
        await Deadlines(bot.redis).schedule(request, copy.id, request.terms)
        ids.append(copy.id)
        n += 1
    return ids


async def _paused_ids(bot: Services) -> list[str]:
    ids = []
    for thread_id in await bot.store.thread_ids():
        thread = await bot.store.load(thread_id)
        if thread is not None and thread.open_request() is not None:
            ids.append(thread_id)
    return ids


def _start_workers(url: str, slack_api_url: str, count: int) -> list[subprocess.Popen[bytes]]:
    """`count` worker processes, started as production starts them: `hitl worker`."""
    env = os.environ | {
        "REDIS_URL": url,
        "SLACK_API_URL": slack_api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "HITL_APPROVERS": BOB,
        "LLM_PROVIDER": "offline",
    }
    command = [sys.executable, "-m", "bot", "worker"]
    return [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


async def _wait(check: Callable[[], Awaitable[bool]], *, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{check} not true after {within}s")
        await asyncio.sleep(0.02)


async def _resume(bot: Services, thread_ids: list[str], workers: int, slack_api_url: str) -> float:
    """Start `workers` worker processes and wait until each is reading the stream, then enqueue
    an approval for each thread (what an Approve click enqueues) and time until every deploy
    has run and every job is acked. Resumes/s."""
    redis = bot.redis
    jobs: list[Decide] = []
    for thread_id in thread_ids:
        thread = await bot.store.load(thread_id)
        assert thread is not None
        request = thread.open_request()
        assert request is not None
        jobs.append(
            Decide(
                thread_id=thread_id,
                call_id=request.call_id,
                action_hash=call_hash(request.action),
                approved=True,
                user=BOB,
            )
        )
    deployed_before = int(await redis.hlen(keys.simulated("deploys")))

    async def all_reading() -> bool:
        # Each worker blocks in XREADGROUP when idle (Redis lists consumers only once they
        # have read something, so XINFO CONSUMERS cannot tell).
        clients = await redis.client_list()
        return sum(c.get("cmd") == "xreadgroup" for c in clients) >= workers

    async def all_handled() -> bool:
        # Every deploy ran and every job was acked (acked after its Slack posts are done).
        if int(await redis.hlen(keys.simulated("deploys"))) - deployed_before < len(jobs):
            return False
        (group,) = await redis.xinfo_groups(keys.jobs())
        return int(group["pending"]) == 0 and int(group["lag"] or 0) == 0

    processes = _start_workers(str(bot.settings.redis_url), slack_api_url, workers)
    try:
        await _wait(all_reading, within=180)  # workers start slowly on a busy CI machine
        started = time.perf_counter()
        for job in jobs:
            await bot.queue.enqueue(job)
        await _wait(all_handled, within=600)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)  # graceful: finish the job in hand, then exit
        for process in processes:
            # Waited for without blocking the loop: the emulator in this process must still
            # answer the Slack calls of the job a worker finishes.
            await asyncio.wait_for(asyncio.to_thread(process.wait), timeout=30)
    return len(jobs) / elapsed


async def run(*, threads: int, real: int, resumes: int) -> list[Row]:
    """`threads` paused threads (`real` made end to end); each worker count resumes its own
    `resumes` of them."""
    assert resumes * len(WORKER_COUNTS) <= threads and real <= threads
    with redis_url() as url:
        async with emulator() as slack:
            bot = services(url, slack.api_url)
            await bot.queue.setup()
            server = await start_server(bot.http)
            slack.events_url = f"{server.url}/slack/events"
            redis = Redis.from_url(url)
            try:
                # Memory is the slope between two halves, so fixed costs (the stream and its
                # group, client buffers, the script cache) are not charged to threads.
                half = real // 2
                used: list[int] = []
                for first, size in ((0, half), (half, real - half)):
                    await _launch(slack, size, first=first)
                    await _drain([bot])
                    used.append(int((await redis.info("memory"))["used_memory"]))
                real_ids = await _paused_ids(bot)
                assert len(real_ids) == real, (len(real_ids), real)
                thread_bytes = [
                    int(await redis.memory_usage(k) or 0)
                    async for k in redis.scan_iter(match="hitl:thread:*", count=1000)
                ]
                per_thread = (used[1] - used[0]) / (real - half)
                per_json = sum(thread_bytes) / len(thread_bytes)
                paused = await _clone(bot, real_ids, threads)
                assert len(await _paused_ids(bot)) == threads
                rates: dict[int, float] = {}
                for i, k in enumerate(WORKER_COUNTS):
                    chunk = paused[i * resumes : (i + 1) * resumes]
                    rates[k] = await _resume(bot, chunk, k, slack.api_url)
                assert slack.violations == [], slack.violations
            finally:
                await redis.aclose()
                await server.stop()
                await bot.close()
    rows = [
        Row(
            figure=f"Redis memory per paused thread ({real:,} threads)",
            ours=f"{per_thread:,.0f} B",
            baseline="—",
            ratio=f"{per_thread / TARGET_BYTES:.2f}× of target",
            target="≤ 2,048 B",
            met=per_thread <= TARGET_BYTES,
            note=(
                "INFO used_memory slope over the 2nd half of the real threads, all our keys "
                f"(thread hash {per_json:,.0f} B by MEMORY USAGE, job stream entries, dedupe "
                "keys, deadlines, request refs)"
            ),
        )
    ]
    for k, rate in rates.items():
        rows.append(
            Row(
                figure=f"Resumes/s, {k} worker{'s' if k > 1 else ''} "
                f"({resumes:,} of {threads:,} paused)",
                ours=f"{rate:,.0f}/s",
                baseline="1 worker" if k > 1 else "—",
                ratio=f"{rate / rates[1]:.2f}×" if k > 1 else "—",
                target="—",
                met=None,
                note="worker processes; approve → deploy (simulated) → Slack update + result post",
            )
        )
    return rows
