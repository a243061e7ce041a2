"""6. Fan-out: many threads launched at once, each waiting on a slow model, on one and on two
worker processes. A fake model answers each step after 1 s of (asynchronous) waiting, as a
remote LLM would; `threads` Launch jobs are enqueued at once (one pipeline, after their root
messages were posted, as the threads API posts them) once every worker process
(bench/fanout_worker.py: the production Worker and Runtime, `build_services`) is reading the
stream; the clock stops when the Slack emulator holds every thread's approval card (a bot
reply with buttons). Real redis-server (no persistence), the Slack emulator in this process.

Connections: every TCP connection the workers opened to the emulator during the round,
counted from the kernel's socket table (/proc/net/tcp: open, closing and TIME_WAIT sockets
whose peer is the emulator's port; a round ends well within TIME_WAIT's 60 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from agents.runtime import keys
from agents.runtime.jobs import Launch
from agents.runtime.thread import SlackOrigin
from bench.common import ALICE, DEPLOYS, Row, emulator, median, redis_url, services
from bot.emulator.server import SlackEmulator
from bot.services import Services

TARGETS = {1: 30.0, 2: 17.0}
"""Seconds by which every approval card must be posted, by worker count."""


@dataclass(frozen=True)
class Round:
    workers: int
    seconds: float
    connections: int
    emulator_cpu: float
    """CPU seconds this process (the Slack emulator, mostly) used while the clock ran."""


def emulator_connections(port: int) -> int:
    """Client-side sockets (any state, TIME_WAIT included) connected to `port` on loopback."""
    seen: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, remote = line.split()[1:3]
            if int(remote.rsplit(":", 1)[1], 16) == port:
                seen.add(local)
    return len(seen)


def _start_workers(
    url: str, slack_api_url: str, count: int, settings: dict[str, str], model_seconds: float
) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "bench.fanout_worker", url, slack_api_url, str(model_seconds)]
    command += [f"{k}={v}" for k, v in settings.items()]
    return [
        subprocess.Popen(command, env=os.environ, stdout=subprocess.DEVNULL) for _ in range(count)
    ]


async def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        # Waited for off the loop: the emulator here answers the calls of jobs in hand.
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), timeout=60)
        except TimeoutError:
            process.kill()
            raise


def _cards(slack: SlackEmulator, roots: set[str]) -> int:
    return sum(
        1
        for m in slack.messages
        if m.bot_id is not None
        and m.thread_ts in roots
        and any(b.get("type") == "actions" for b in m.blocks)
    )


async def one_round(
    threads: int, workers: int, settings: dict[str, str], *, model_seconds: float = 1.0
) -> Round:
    """A fresh Redis and emulator; `threads` launches on `workers` processes."""
    with redis_url() as url:
        async with emulator() as slack:
            bot = services(url, slack.api_url)
            try:
                return await _timed(bot, slack, url, threads, (workers, model_seconds), settings)
            finally:
                await bot.close()


async def _timed(
    bot: Services,
    slack: SlackEmulator,
    url: str,
    threads: int,
    how: tuple[int, float],
    s: dict[str, str],
) -> Round:
    workers, model_seconds = how
    await bot.queue.setup()
    roots: list[str] = []
    for i in range(threads):  # the root messages the threads API would post
        posted = await bot.client.chat_postMessage(channel=DEPLOYS, text=f"svc{i} request")
        roots.append(str(posted["ts"]))
    jobs = [
        Launch(
            user=ALICE,
            text=f"deploy svc{i} 1.4.2 to production",
            origin=SlackOrigin(channel=DEPLOYS, thread_ts=ts),
            message_ts=ts,
        )
        for i, ts in enumerate(roots)
    ]
    port = int(slack.api_url.split(":")[2].split("/")[0])
    processes = _start_workers(url, slack.api_url, workers, s, model_seconds)
    try:
        while sum(c.get("cmd") == "xreadgroup" for c in await bot.redis.client_list()) < workers:
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a worker process exited before it read the stream")
            await asyncio.sleep(0.05)
        before = emulator_connections(port)
        cpu = time.process_time()
        started = time.perf_counter()
        async with bot.redis.pipeline(transaction=False) as pipe:
            for job in jobs:
                pipe.xadd(keys.jobs(), {"job": job.model_dump_json()})
            await pipe.execute()
        wanted, shown = set(roots), 0.0
        while (cards := _cards(slack, wanted)) < threads:
            elapsed = time.perf_counter() - started
            if elapsed > 300:
                raise TimeoutError(f"{cards} of {threads} cards after 300 s")
            if elapsed - shown >= 5:  # progress, to see where a run slows down
                print(f"  {workers} worker(s): {cards} cards at {elapsed:.0f} s", file=sys.stderr)
                shown = elapsed
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        connections = emulator_connections(port) - before
    finally:
        await _stop(processes)
    assert slack.violations == [], slack.violations[:3]
    return Round(workers, seconds, connections, cpu)


async def run(
    *,
    threads: int,
    repeats: int,
    settings: dict[str, str] | None = None,
    worker_counts: tuple[int, ...] = (1, 2),
    model_seconds: float = 1.0,
) -> list[Row]:
    """Rounds of 1 and 2 workers, alternated `repeats` times; medians and ranges."""
    settings = settings or {}
    rounds: dict[int, list[Round]] = {k: [] for k in worker_counts}
    for _ in range(repeats):
        for workers in rounds:
            measured = await one_round(threads, workers, settings, model_seconds=model_seconds)
            rounds[workers].append(measured)
    rows = []
    for workers, done in rounds.items():
        times = [r.seconds for r in done]
        target = TARGETS.get(workers, TARGETS[2]) * threads / 1000
        rows.append(
            Row(
                figure=f"All {threads:,} approval cards posted, {workers} worker"
                f"{'s' if workers > 1 else ''} (model {model_seconds:g} s/step)",
                ours=f"{median(times):.1f} s",
                baseline="—",
                ratio=f"{median(times) / target:.2f}× of target",
                target=f"≤ {target:.0f} s",
                met=median(times) <= target,
                note=f"range {min(times):.1f}–{max(times):.1f} s over {len(times)} runs; "
                f"emulator connections opened per run: {[r.connections for r in done]}; "
                f"emulator CPU per run: {[round(r.emulator_cpu, 1) for r in done]} s",
            )
        )
    return rows


def main() -> None:
    """`python -m bench.fanout [THREADS [REPEATS [WORKERS [SETTING=VALUE...]]]]`, WORKERS as
    `1,2`; settings go to the worker processes (`hitl_worker_concurrency=256`)."""
    args = sys.argv[1:]
    threads = int(args[0]) if args else 1000
    repeats = int(args[1]) if len(args) > 1 else 1
    counts = tuple(int(k) for k in args[2].split(",")) if len(args) > 2 else (1, 2)
    settings = dict(pair.split("=", 1) for pair in args[3:])
    rows = asyncio.run(
        run(threads=threads, repeats=repeats, settings=settings, worker_counts=counts)
    )
    for row in rows:
        print(row.figure, row.ours, row.ratio, row.note)


if __name__ == "__main__":
    main()
