"""Ack latency while hundreds of threads run: the bot (HTTP edge plus an in-process worker,
as `hitl serve` runs them) in a process of its own with a slow model (a sleep before the offline
planner's answer), fed `--threads` mentions to start that many runs, then timed on `--probes`
more mentions sent while those runs step.

`--worker shared` runs the worker as a task on the web server's event loop (what `hitl serve`
did before its worker got a thread of its own); `--worker thread` uses bot/runners.py as it is;
`--worker process` runs the worker in a second process (as `hitl serve --no-worker` plus
`hitl worker` would).
A one-off measurement, not part of `python -m bench`:

    python -m bench.worker_acks --worker shared
    python -m bench.worker_acks --worker thread
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bench.ack import bodies, burst
from bench.common import BOT_TOKEN, SIGNING_SECRET, emulator, median, percentile, redis_url

SERVER = """
import asyncio, sys
from agents.models.offline import OfflineModel
from bot.runners import _worker
from bot.serving import start_server
from bot.services import build_services
from bot.settings import Settings
from bot.agent_loading import BUILT_IN, load_agents

mode, redis_url, slack_api_url, seconds, concurrency, token, secret, __code__ = sys.argv[1:9]

class SlowModel:
    async def next_step(self, request):
        await asyncio.sleep(float(seconds))
        return await OfflineModel(load_agents(BUILT_IN)).next_step(request)

async def main():
    settings = Settings(
        slack_bot_token=token, slack_signing_secret=secret, slack_api_url=slack_api_url,
        redis_url=redis_url, hitl_worker_concurrency=int(concurrency),
    )
    services = build_services(settings, model=SlowModel())
    await services.queue.setup()
    if mode in ("shared", "worker-only"):
        task = asyncio.create_task(services.worker.run())
    if mode == "worker-only":  # a second process: only the worker, no web server
        await asyncio.to_thread(sys.stdin.readline)
        services.worker.stop()
        await task
        await services.close()
        return
    if mode == "process":
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", __code__, "worker-only", *sys.argv[2:9],
            stdin=asyncio.subprocess.PIPE,
        )
    async with _worker(services, enabled=mode == "thread"):
        server = await start_server(services.http)
        print(server.url, flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        await server.stop()
        if mode == "shared":
            services.worker.stop()
            await task
        if mode == "process":
            worker.stdin.close()
            await worker.wait()

asyncio.run(main())
"""


async def measure(args: argparse.Namespace) -> list[float]:
    with redis_url() as url:
        async with emulator() as slack:
            command = [sys.executable, "-c", SERVER, args.worker, url, slack.api_url]
            command += [
                str(args.model_seconds),
                str(args.threads + args.probes),
                BOT_TOKEN,
                SIGNING_SECRET,
                SERVER,
            ]
            server = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
            assert server.stdout is not None and server.stdin is not None
            base = (await asyncio.wait_for(server.stdout.readline(), timeout=60)).decode()
            events_url = f"{base.strip()}/slack/events"
            try:
                await burst(events_url, bodies(slack, 20, "warm-up"), 20)
                load = asyncio.create_task(
                    burst(events_url, bodies(slack, args.threads, "load"), args.rate)
                )
                await asyncio.sleep(args.threads / args.rate)  # the runs are under way
                probes = await burst(events_url, bodies(slack, args.probes, "probe"), 25)
                await load
                return probes
            finally:
                server.stdin.close()
                await asyncio.wait_for(server.wait(), timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", choices=["shared", "thread", "process"], default="thread")
    parser.add_argument("--threads", type=int, default=300)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="load mentions per second")
    parser.add_argument("--model-seconds", type=float, default=1.0)
    args = parser.parse_args()
    started = time.perf_counter()
    probes = asyncio.run(measure(args))
    print(
        f"worker={args.worker} threads={args.threads} model={args.model_seconds}s "
        f"ack ms: p50={median(probes):.0f} p99={percentile(probes, 99):.0f} "
        f"max={max(probes):.0f} ({time.perf_counter() - started:.0f}s)"
    )


if __name__ == "__main__":
    main()
