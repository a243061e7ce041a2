"""Shared fixtures: a real redis-server, the Slack emulator (a fake Slack Web API the real
slack_sdk client talks to, delivering signed requests), and bot processes built from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from agents.runtime.types import Model
from bot.emulator.server import SlackEmulator
from bot.services import Services, build_services
from bot.serving import RunningServer, start_server
from bot.settings import Settings
from tests.agents.models.fake_providers import FakeProvider
from tests.redis_servers import redis_cluster, redis_process

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-sandbox"
ALICE, BOB, CAROL, MALLORY = "U0ALICE", "U0BOB", "U0CAROL", "U0MALLORY"
APPROVERS = frozenset({BOB, CAROL})
DEPLOYS = "C0DEPLOYS"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_process(tmp_path_factory.mktemp("redis"), "--appendonly", "no") as port:
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real 3-node Redis Cluster (redis-server in cluster mode)."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield f"redis+cluster://127.0.0.1:{ports[0]}"


@pytest.fixture
async def redis(redis_server: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    """A fake OpenAI/Anthropic HTTP server (tests/agents/models/fake_providers.py), free port."""
    fake = FakeProvider()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()
    # Whatever a test did, nothing the bot sent broke Slack's rules (limits, fallback text).
    assert emulator.violations == [], emulator.violations


@dataclass
class BotProcess:
    """One bot process: the Bolt app served over HTTP plus its worker."""

    services: Services
    server: RunningServer

    async def settle(self) -> int:
        """Run the worker until no job is left (arq's burst mode)."""
        return await self.services.worker.run(burst=True)

    async def stop(self) -> None:
        await self.server.stop()
        await self.services.close()


MakeBot = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def make_bot(redis_server: str, redis: Redis, slack: SlackEmulator) -> AsyncIterator[MakeBot]:
    started: list[BotProcess] = []

    async def make(
        *, model: Model | None = None, approvers: frozenset[str] = APPROVERS, **overrides: Any
    ) -> BotProcess:
        defaults: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.api_url,
            "redis_url": redis_server,
            "hitl_approvers": approvers,
        }
        settings = Settings(**(defaults | overrides))
        services = build_services(settings, model=model)
        await services.queue.setup()
        server = await start_server(services.http)
        slack.events_url = f"{server.url}/slack/events"
        bot = BotProcess(services=services, server=server)
        started.append(bot)
        return bot

    yield make
    for bot in started:
        if not bot.server.task.done():
            await bot.stop()


@pytest.fixture
async def bot(make_bot: MakeBot) -> BotProcess:
    return await make_bot()
