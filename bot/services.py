"""The composition root: builds every part from settings, explicitly, in one place."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from agents.deploy import DEPLOY
from agents.jobs import JobQueue
from agents.loop import StepDeps
from agents.offline import OfflineModel
from agents.runtime import Runtime
from agents.store import ThreadStore
from agents.types import Model
from agents.worker import Worker
from bot.app import build_bolt_app
from bot.handlers import Handlers
from bot.http import build_http_app
from bot.notifier import SlackNotifier
from bot.settings import Settings
from tools.deploy import SimulatedDeployer

AGENTS = [DEPLOY]


class ConfigError(Exception):
    """The settings cannot run what was asked; the message says what to set."""


def model_for(settings: Settings) -> Model:
    if settings.llm_provider == "offline":
        return OfflineModel()
    raise ConfigError(
        f"LLM_PROVIDER={settings.llm_provider} is not available in this version; "
        "use LLM_PROVIDER=offline (the default)."
    )


@dataclass
class Services:
    settings: Settings
    redis: Redis
    store: ThreadStore
    queue: JobQueue
    runtime: Runtime
    worker: Worker
    client: AsyncWebClient
    bolt: AsyncApp
    http: Starlette

    async def close(self) -> None:
        self.worker.stop()
        await self.redis.aclose()


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def build_services(settings: Settings, *, model: Model | None = None) -> Services:
    if not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set.")
    redis = Redis.from_url(settings.redis_url)
    store = ThreadStore(redis)
    queue = JobQueue(redis, consumer=consumer_name())
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    runtime = Runtime(
        store=store,
        agents=AGENTS,
        deps=StepDeps(model=model or model_for(settings), deployer=SimulatedDeployer(redis)),
        notifier=SlackNotifier(client, store),
        approvers=settings.hitl_approvers,
    )
    bolt = build_bolt_app(
        client=client,
        signing_secret=settings.slack_signing_secret,
        handlers=Handlers(queue=queue, store=store),
    )
    return Services(
        settings=settings,
        redis=redis,
        store=store,
        queue=queue,
        runtime=runtime,
        worker=Worker(queue=queue, runtime=runtime),
        client=client,
        bolt=bolt,
        http=build_http_app(bolt, redis=redis),
    )
