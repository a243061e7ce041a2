"""`python -m bench.ack_server ours|bare REDIS_URL SLACK_API_URL`: serve one of the two apps of
figure 1 in a process of its own, as a bot runs in production, so the load generator and the
Slack emulator (in the benchmark's process) do not share its interpreter. Prints the URL once
listening; stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from bench.ack import bare_app
from bench.common import services
from bot.serving import start_server


async def serve(which: str, redis_url: str, slack_api_url: str) -> None:
    bot = services(redis_url, slack_api_url)
    await bot.queue.setup()
    app = bot.http if which == "ours" else bare_app(slack_api_url)
    server = await start_server(app)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(server.url, flush=True)
    await stop.wait()
    await server.stop()
    await bot.close()


if __name__ == "__main__":
    asyncio.run(serve(*sys.argv[1:4]))
