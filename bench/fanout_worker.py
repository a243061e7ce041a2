"""A worker process for bench/fanout.py: the production worker (`build_services`, the same
Runtime and Worker `hitl worker` runs) with a model that waits `seconds` before each answer,
as a remote LLM would, and then answers as the offline model does. Runs until SIGTERM.

    python -m bench.fanout_worker REDIS_URL SLACK_API_URL SECONDS [KEY=VALUE settings...]
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import resource
import signal
import sys

from agents.models.offline import OfflineModel
from agents.runtime.types import ModelReply, ModelRequest
from bench.common import services
from bot.agent_loading import BUILT_IN, load_agents


class SlowModel:
    """Answers after `seconds` of waiting (asynchronously: the worker overlaps many)."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._offline = OfflineModel(load_agents(BUILT_IN))

    async def next_step(self, request: ModelRequest) -> ModelReply:
        await asyncio.sleep(self._seconds)
        return await self._offline.next_step(request)


async def main(argv: list[str]) -> None:
    redis_url, slack_api_url, seconds, *pairs = argv
    overrides = dict(pair.split("=", 1) for pair in pairs)
    bot = services(redis_url, slack_api_url, model=SlowModel(float(seconds)), **overrides)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    run = asyncio.create_task(bot.worker.run())
    try:
        await stop.wait()
    finally:
        bot.worker.stop()
        try:
            await asyncio.wait_for(asyncio.shield(run), timeout=20)
        except TimeoutError:
            _report_stuck()
            raise
        await bot.close()
        used = resource.getrusage(resource.RUSAGE_SELF)
        print(f"fanout worker CPU: {used.ru_utime + used.ru_stime:.1f} s", file=sys.stderr)


def _report_stuck() -> None:
    """Where the tasks that hold up a graceful stop are waiting (a benchmark's diagnosis)."""
    tasks = asyncio.all_tasks()
    print(f"fanout worker: {len(tasks)} tasks still running at stop", file=sys.stderr)
    for task in list(tasks)[:3]:
        task.print_stack(limit=8, file=sys.stderr)


if __name__ == "__main__":
    if profile := os.environ.get("FANOUT_PROFILE"):  # where the worker spends its CPU
        cProfile.run("asyncio.run(main(sys.argv[1:]))", f"{profile}.{os.getpid()}")
    else:
        asyncio.run(main(sys.argv[1:]))
