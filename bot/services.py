"""The composition root: builds every part from settings, explicitly, in one place."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import aiohttp
import httpx
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_internal_utils import _request_with_session
from starlette.applications import Starlette

from agents.models.llm_anthropic import AnthropicModel
from agents.models.llm_openai import OpenAIModel
from agents.models.offline import OfflineModel
from agents.requests import AGENT as REQUESTS
from agents.runtime.agent import Agent
from agents.runtime.connect import MAX_CONNECTIONS, close_redis, redis_from_url
from agents.runtime.deadlines import Deadlines
from agents.runtime.handling import Runtime
from agents.runtime.jobs import JobQueue
from agents.runtime.lease import Leases
from agents.runtime.loop import StepDeps
from agents.runtime.metrics import Metrics, TimedModel
from agents.runtime.outbox import DeliveryLedger, Outbox
from agents.runtime.policy import Policy, PolicyError, PolicyFile, load_policy_file, misnamed
from agents.runtime.reconciler import Reconciler
from agents.runtime.routing import Router
from agents.runtime.store import ThreadStore
from agents.runtime.types import Model
from agents.runtime.worker import Worker, WorkerLimits
from bot.adapters import AdapterConfigError, Adapters, build_adapters
from bot.agent_loading import AgentLoadError, load_agents
from bot.callbacks import CallbackNotifier
from bot.http import build_http_app
from bot.operations import ThreadOps
from bot.requests_api import RequestOps, RequestViews
from bot.settings import Settings
from bot.slack.app import build_bolt_app
from bot.slack.commands import Commands
from bot.slack.directory import SlackDirectory
from bot.slack.handlers import Handlers
from bot.slack.home import HomeTab
from bot.slack.notifier import SlackNotifier
from tools.types import ToolFamily


class ConfigError(Exception):
    """The settings cannot run what was asked; the message says what to set."""


class PooledWebClient(AsyncWebClient):
    """slack_sdk's client with one aiohttp session for the process, so Web API calls reuse
    kept-alive connections (without one, slack_sdk opens a session, so a connection, per call).

    The session is made on the first call, on the event loop that makes it (an aiohttp session
    belongs to one loop, and the services may be built before any loop runs); a call from
    another loop gets slack_sdk's one-off session, as before. `aclose()` closes it."""

    def __init__(self, *, connections: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connections = connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def _request(self, *, http_verb: str, api_url: str, req_args: dict[str, Any]) -> Any:
        loop = asyncio.get_running_loop()
        if self.session is None and not self._closed:
            # The session's timeout stands in for slack_sdk's per-call one.
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=self._connections),
            )
            self._loop = loop
        shared = self.session if self._loop is loop and not self._closed else None
        return await _request_with_session(
            current_session=shared,
            timeout=self.timeout,
            logger=self._logger,
            http_verb=http_verb,
            api_url=api_url,
            req_args=req_args,
            retry_handlers=self.retry_handlers,
        )

    async def aclose(self) -> None:
        """Close the shared session (its connections); later calls get one-off sessions."""
        self._closed = True
        if self.session is not None and not self.session.closed:
            await self.session.close()


def agents_for(settings: Settings) -> list[Agent]:
    """The micro-agents HITL_AGENTS names; routing picks one per mention."""
    try:
        return load_agents(settings.hitl_agents)
    except AgentLoadError as exc:
        raise ConfigError(str(exc)) from exc


def families_of(agents: Sequence[Agent]) -> list[ToolFamily[Any]]:
    """The tool families the agents use, each once: one adapter is built for each."""
    families: list[ToolFamily[Any]] = []
    for agent in agents:
        families += [family for family in agent.families if family not in families]
    return families


def model_for(settings: Settings, agents: Sequence[Agent]) -> Model:
    """The model LLM_PROVIDER names (offline: the agents' own planners). The HTTP clients hold a
    connection pool (`aclose()`)."""
    model, anthropic_key = settings.llm_model, settings.anthropic_api_key
    # A connection for each thread the worker runs at once, each kept alive between calls.
    pool = httpx.Limits(
        max_connections=settings.http_connections,
        max_keepalive_connections=settings.http_connections,
    )
    match settings.llm_provider:
        case "offline":
            return OfflineModel(agents)
        case "openai" if model:
            return OpenAIModel(
                model=model,
                base_url=settings.openai_base_url,
                api_key=settings.openai_api_key,
                limits=pool,
            )
        case "anthropic" if model and anthropic_key:
            return AnthropicModel(
                model=model,
                api_key=anthropic_key,
                base_url=settings.anthropic_base_url,
                limits=pool,
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
    """Every part of one process. The Slack edge (`bolt`, `http`) is built on first use, so a
    worker, which never serves Slack, needs no SLACK_SIGNING_SECRET."""

    settings: Settings
    agents: list[Agent]
    redis: Redis
    store: ThreadStore
    queue: JobQueue
    runtime: Runtime
    worker: Worker
    client: AsyncWebClient
    metrics: Metrics
    """What this process's runtime records; /metrics of a web server whose worker runs on
    its own thread shows the worker's (see bot/runners.py)."""
    reconciler: Reconciler | None = None
    owned_model: Model | None = None  # built from settings, not passed in: closed here
    adapters: Adapters | None = None
    model: Model | None = None
    """The model passed to build_services, if any (a second set of services shares it)."""
    callbacks: httpx.AsyncClient | None = None
    """The shared client of the requests API's decision webhooks (closed here)."""

    @cached_property
    def bolt(self) -> AsyncApp:
        if not self.settings.slack_signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET is not set.")
        return build_bolt_app(
            client=self.client,
            signing_secret=self.settings.slack_signing_secret,
            handlers=Handlers(
                queue=self.queue,
                store=self.store,
                agents={a.name: a for a in self.agents},
                redis=self.redis,
                policy=policy_for(self.settings, self.agents),
            ),
            slash=Commands(
                queue=self.queue,
                store=self.store,
                agents={a.name: a for a in self.agents},
                directory=SlackDirectory(self.client, self.redis),
            ),
        )

    @cached_property
    def http(self) -> Starlette:
        bolt = self.bolt
        return build_http_app(
            bolt,
            signing_secret=str(self.settings.slack_signing_secret),
            redis=self.redis,
            ops=ThreadOps(store=self.store, queue=self.queue, client=self.client),
            requests=self.requests,
            api_tokens=self.settings.api_tokens(),
            metrics=self.metrics,
        )

    @cached_property
    def requests(self) -> RequestOps:
        """The human-contact requests API's operations (HTTP and MCP)."""
        return RequestOps(
            store=self.store,
            queue=self.queue,
            client=self.client,
            redis=self.redis,
            policy=policy_for(self.settings, self.agents),
            receipts=self.settings.receipt_signer(),
            callback_hosts=self.settings.hitl_callback_hosts,
            signed=bool(self.settings.hitl_callback_secret),
        )

    async def close(self) -> None:
        self.worker.stop()
        if isinstance(self.owned_model, OpenAIModel | AnthropicModel):
            await self.owned_model.aclose()
        if self.adapters is not None:
            await self.adapters.aclose()
        if self.callbacks is not None:
            await self.callbacks.aclose()
        if isinstance(self.client, PooledWebClient):
            await self.client.aclose()
        await close_redis(self.redis)


def policy_for(settings: Settings, agents: Sequence[Agent]) -> Policy:
    """Tool policy from HITL_APPROVERS, HITL_APPROVAL_TIMEOUT, HITL_ONCALL and the policy file,
    whose rules and limits must name the agents' tools and their arguments."""
    policy_file = PolicyFile()
    if settings.hitl_policy_file is not None:
        try:
            policy_file = load_policy_file(settings.hitl_policy_file)
        except PolicyError as exc:
            raise ConfigError(str(exc)) from exc
        problems = misnamed(policy_file, [tool for agent in agents for tool in agent.tools])
        if problems:
            raise ConfigError(f"policy file {settings.hitl_policy_file}: " + "; ".join(problems))
    return Policy(
        approvers=tuple(sorted(settings.hitl_approvers)),
        timeout=settings.hitl_approval_timeout,
        rules=policy_file.rules,
        oncall=policy_file.oncall or settings.hitl_oncall,
        owners={**settings.hitl_resource_owners, **policy_file.owners},
        limits=policy_file.limits,
    )


def consumer_name() -> str:
    """Unique per worker, readable in XINFO: host, process and a random tag."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def build_services(settings: Settings, *, model: Model | None = None) -> Services:
    routed = agents_for(settings)
    # The requests API's code-only agent runs beside them; no mention is routed to it.
    agents = [*routed, REQUESTS]
    owned_model: Model | None = None
    if model is None:
        model = owned_model = model_for(settings, routed)
    # Every running thread may hold a Redis connection at once, besides the worker's own
    # blocking read and its lease renewals: a smaller pool makes them queue for one.
    redis = redis_from_url(
        settings.redis_url, max_connections=max(MAX_CONNECTIONS, settings.redis_connections)
    )
    store = ThreadStore(redis, audit_retention_days=settings.hitl_audit_retention_days)
    queue = JobQueue(redis, consumer=consumer_name())
    client = PooledWebClient(
        connections=settings.http_connections,
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
    policy = policy_for(settings, agents)
    callbacks = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
    slack_notifier = SlackNotifier(
        client,
        ledger,
        escalation_channel=settings.hitl_escalation_channel,
        # A dead worker's post could land until its call would have timed out.
        claim_seconds=settings.hitl_slack_timeout + 1,
        agents={a.name: a for a in agents},
        home=HomeTab(redis, store=store, agents={a.name: a for a in agents}),
    )
    outbox = Outbox(
        store=store,
        ledger=ledger,
        notifier=CallbackNotifier(
            slack_notifier,
            redis=redis,
            http=callbacks,
            secret=settings.hitl_callback_secret,
            attempts=settings.hitl_callback_attempts,
            views=RequestViews(client, ledger, policy, settings.receipt_signer()),
            metrics=metrics,
        ),
        deadlines=deadlines,
        metrics=metrics,
    )
    try:
        adapters = build_adapters(settings, redis, families_of(agents))
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
        agents=agents,
        deps=StepDeps(
            model=TimedModel(model, metrics),
            adapters=adapters.tools,
            policy=policy,
            scheduler=deadlines,
            receipts=settings.receipt_signer(),
        ),
        outbox=outbox,
        directory=SlackDirectory(client, redis),
        deadlines=deadlines,
        metrics=metrics,
        # Offline: the planner's keywords route; with an LLM, a classification call does.
        router=Router(routed, model=None if settings.llm_provider == "offline" else model),
    )
    return Services(
        settings=settings,
        agents=agents,
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
        reconciler=reconciler,
        owned_model=owned_model,
        adapters=adapters,
        metrics=metrics,
        model=None if owned_model is not None else model,
        callbacks=callbacks,
    )
