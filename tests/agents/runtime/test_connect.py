"""REDIS_URL forms against real servers: a Sentinel-managed master, and clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.runtime.connect import close_redis, redis_from_url
from agents.runtime.events import UserMessage
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from bot.serving import free_port
from tests.redis_servers import redis_process, redis_server_exe, wait_until_up


async def test_a_sentinel_url_finds_the_master_and_the_store_works_through_it(
    tmp_path: Path,
) -> None:
    with redis_process(tmp_path / "master", "--appendonly", "no") as master:
        sentinel_port = free_port()
        config = tmp_path / "sentinel.conf"
        config.write_text(
            f"port {sentinel_port}\nbind 127.0.0.1\nsentinel monitor hitl 127.0.0.1 {master} 1\n"
        )
        # The config file must come first, so not through redis_process.
        sentinel = await asyncio.create_subprocess_exec(
            redis_server_exe(), str(config), "--sentinel", stdout=asyncio.subprocess.DEVNULL
        )
        try:
            wait_until_up(sentinel_port)
            client = redis_from_url(f"redis+sentinel://127.0.0.1:{sentinel_port}/hitl/0")
            store = ThreadStore(client)
            thread = Thread(
                id="tsentinel",
                agent="deploy",
                requester="U1",
                events=[UserMessage(user="U1", text="hi")],
            )
            assert await store.create(thread)
            assert await store.load("tsentinel") == thread
            await close_redis(client)
        finally:
            sentinel.terminate()
            await sentinel.wait()


@pytest.mark.parametrize(
    ("url", "says"),
    [("redis+sentinel://127.0.0.1:26379", "name the master"), ("memcached+x://h", "scheme")],
)
def test_bad_redis_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        redis_from_url(url)
