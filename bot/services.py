"""The composition root: builds every part from settings, explicitly, in one place."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from agents.access import ACCESS
from agents.deploy import DEPLOY
from agents.incident import INCIDENT
from agents.models.llm_anthropic import AnthropicModel
from agents.models.llm_openai import OpenAIModel
from agents.models.offline import OfflineModel
from agents.runtime.connect import close_redis, redis_from_url
from agents.runtime.deadlines import Deadlines
from agents.runtime.handling import Runtime
from agents.runtime.jobs import JobQueue
from agents.runtime.lease import Leases
from agents.runtime.loop import StepDeps
from agents.runtime.metrics import Metrics, TimedModel
from agents.runtime.outbox import DeliveryLedger, Outbox
from agents.runtime.policy import Policy, PolicyError, PolicyFile, load_policy_file
from agents.runtime.reconciler import Reconciler
from agents.runtime.routing import Router
from agents.runtime.store import ThreadStore
from agents.runtime.types import Model
from agents.runtime.worker import Worker, WorkerLimits
from bot.adapters import AdapterConfigError, Adapters, build_adapters
from bot.http import build_http_app
from bot.operations import ThreadOps
from bot.settings import Settings
from bot.slack.app import build_bolt_app
from bot.slack.directory import SlackDirectory
from bot.slack.handlers import Handlers
from bot.slack.notifier import SlackNotifier
from tools.access import ACCESS_TOOLS
from tools.deploy import DEPLOY_TOOLS
from tools.incidents import INCIDENT_TOOLS

AGENTS = [DEPLOY, ACCESS, INCIDENT]
"""Every micro-agent; routing picks one per mention (the first when nothing else applies)."""
FAMILIES = (DEPLOY_TOOLS, ACCESS_TOOLS, INCIDENT_TOOLS)
"""Every tool family: each gets its adapter from settings (bot/adapters.py)."""


class ConfigError(Exception):
    """The settings cannot run what was asked; the message says what to set."""


def model_for(settings: Settings) -> Model:
    """The model LLM_PROVIDER names. The HTTP clients hold a connection pool (`aclose()`)."""
    model, anthropic_key = settings.llm_model, settings.anthropic_api_key
    match settings.llm_provider:
        case "offline":
            return OfflineModel()
        case "openai" if model:
            return OpenAIModel(
                model=model, base_url=settings.openai_base_url, api_key=settings.openai_api_key
            )
        case "anthropic" if model and anthropic_key:
            return AnthropicModel(
                model=model, api_key=anthropic_key, base_url=settings.anthropic_base_url
            )
    needed = {"LLM_MODEL": model}
    if settings.llm_provider == "anthropic":
        needed["ANTHROPIC_API_KEY"] = anthropic_key
    missing = ", ".join(name for name, value in needed.items() if not value)
    raise ConfigError(
        f"LLM_PROVIDER={settings.llm_provider} needs {missing}; see README (LLM providers), "
        "or use LLM_PROVIDER=offline (the default)."
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
    reconciler: Reconciler | None = None
    owned_model: Model | None = None  # built from settings, not passed in: closed here
    adapters: Adapters | None = None
    metrics: Metrics | None = None
    model: Model | None = None
    """The model passed to build_services, if any (a second set of services shares it)."""
    """What this process's runtime records; /metrics of a web server whose worker runs on
    its own thread shows the worker's (see bot/runners.py)."""

    async def close(self) -> None:
        self.worker.stop()
        if isinstance(self.owned_model, OpenAIModel | AnthropicModel):
            await self.owned_model.aclose()
        if self.adapters is not None:
            await self.adapters.aclose()
        await close_redis(self.redis)


def policy_for(settings: Settings) -> Policy:
    """Tool policy from HITL_APPROVERS, HITL_APPROVAL_TIMEOUT, HITL_ONCALL and the policy file."""
    policy_file = PolicyFile()
    if settings.hitl_policy_file is not None:
        try:
            policy_file = load_policy_file(settings.hitl_policy_file)
        except PolicyError as exc:
            raise ConfigError(str(exc)) from exc
    return Policy(
        approvers=tuple(sorted(settings.hitl_approvers)),
        timeout=settings.hitl_approval_timeout,
        rules=policy_file.rules,
        oncall=policy_file.oncall or settings.hitl_oncall,
        owners={**settings.hitl_resource_owners, **policy_file.owners},
    )


def consumer_name() -> str:
    """Unique per worker, readable in XINFO: host, process and a random tag."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def build_services(settings: Settings, *, model: Model | None = None) -> Services:
    if not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET is not set.")
    owned_model: Model | None = None
    if model is None:
        model = owned_model = model_for(settings)
    redis = redis_from_url(settings.redis_url)
    store = ThreadStore(redis)
    queue = JobQueue(redis, consumer=consumer_name())
    client = AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=max(1, round(settings.hitl_slack_timeout)),
        # Slack's 429s are retried after their Retry-After; dropped connections once more.
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncConnectionErrorRetryHandler(max_retry_count=1),
        ],
    )
    deadlines = Deadlines(redis)
    metrics = Metrics()
    ledger = DeliveryLedger(redis)
    outbox = Outbox(
        store=store,
        ledger=ledger,
        notifier=SlackNotifier(
            client,
            ledger,
            escalation_channel=settings.hitl_escalation_channel,
            # A dead worker's post could land until its call would have timed out.
            claim_seconds=settings.hitl_slack_timeout + 1,
        ),
        deadlines=deadlines,
        metrics=metrics,
    )
    try:
        adapters = build_adapters(settings, redis, FAMILIES)
    except AdapterConfigError as exc:
        raise ConfigError(str(exc)) from exc
    reconciler = Reconciler(
        redis=redis,
        store=store,
        queue=queue,
        metrics=metrics,
        interval=settings.hitl_reconcile_seconds,
    )
    runtime = Runtime(
        store=store,
        agents=AGENTS,
        deps=StepDeps(
            model=TimedModel(model, metrics),
            adapters=adapters.tools,
            policy=policy_for(settings),
            scheduler=deadlines,
        ),
        outbox=outbox,
        directory=SlackDirectory(client, redis),
        deadlines=deadlines,
        metrics=metrics,
        # Offline: the planner's keywords route; with an LLM, a classification call does.
        router=Router(AGENTS, model=None if settings.llm_provider == "offline" else model),
    )
    bolt = build_bolt_app(
        client=client,
        signing_secret=settings.slack_signing_secret,
        handlers=Handlers(queue=queue, store=store, agents={a.name: a for a in AGENTS}),
    )
    return Services(
        settings=settings,
        redis=redis,
        store=store,
        queue=queue,
        runtime=runtime,
        worker=Worker(
            queue=queue,
            runtime=runtime,
            deadlines=deadlines,
            leases=Leases(redis, ttl_ms=settings.hitl_lease_ms),
            reconcile=reconciler.reconcile,
            limits=WorkerLimits(
                claim_ms=settings.hitl_job_claim_ms,
                concurrency=settings.hitl_worker_concurrency,
                reconcile_seconds=settings.hitl_reconcile_seconds,
            ),
        ),
        client=client,
        bolt=bolt,
        http=build_http_app(
            bolt,
            signing_secret=settings.slack_signing_secret,
            redis=redis,
            ops=ThreadOps(store=store, queue=queue, client=client),
            api_token=settings.hitl_api_token,
            metrics=metrics,
        ),
        reconciler=reconciler,
        owned_model=owned_model,
        adapters=adapters,
        metrics=metrics,
        model=None if owned_model is not None else model,
    )
