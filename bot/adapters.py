"""The tools' adapters, one per tool family, chosen from settings: a real one when its settings
are present, else the simulated one that records in Redis (sandbox, tests).

  every family  HITL_<NAME>_WEBHOOK_URL (+ _SECRET): the signed webhook; else simulated
                (HITL_DEPLOY_WEBHOOK_URL, HITL_ACCESS_WEBHOOK_URL, HITL_INCIDENTS_WEBHOOK_URL,
                and the same names for a family of your own)
  deploy        HITL_GITHUB_REPO (+ HITL_GITHUB_TOKEN), before its webhook: GitHub Actions
                workflow_dispatch
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from redis.asyncio import Redis

from agents.runtime import keys
from bot.settings import Settings
from tools.deploy import DEPLOY_TOOLS, Deployer, SimulatedDeployer
from tools.github_actions import GitHubActionsDeployer
from tools.types import AdapterSet, SimulatedStore, ToolFamily
from tools.webhook import TIMEOUT, SignedWebhook


class AdapterConfigError(ValueError):
    """An adapter is half configured; the message names the missing setting."""


@dataclass
class Adapters:
    """The adapters of every family, and the HTTP client the real ones share (closed here)."""

    tools: AdapterSet
    client: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.client.aclose()


def simulated_store(redis: Redis, family: ToolFamily[Any]) -> SimulatedStore:
    """Where `family`'s simulated adapter records (tests read the records through it too)."""
    return SimulatedStore(redis, keys.simulated(family.records), keys.SIMULATED_TTL)


def build_adapters(
    settings: Settings, redis: Redis, families: Sequence[ToolFamily[Any]]
) -> Adapters:
    """One adapter per family, in order (the first half-configured one raises)."""
    client = httpx.AsyncClient(timeout=TIMEOUT)
    entries = [family.key.bind(_adapter(family, settings, redis, client)) for family in families]
    return Adapters(tools=AdapterSet.of(*entries), client=client)


def _adapter(
    family: ToolFamily[Any], settings: Settings, redis: Redis, client: httpx.AsyncClient
) -> object:
    if family is DEPLOY_TOOLS:
        return _deployer(settings, redis, client)
    if hook := _webhook(settings, family.name, client):
        return family.webhook(hook)
    return family.simulated(simulated_store(redis, family))


def _deployer(settings: Settings, redis: Redis, client: httpx.AsyncClient) -> Deployer:
    """GitHub Actions when configured, then the deploy webhook; the simulated deployer may be
    given a duration (crash-recovery tests, demos)."""
    if settings.hitl_github_repo:
        if not settings.hitl_github_token:
            raise AdapterConfigError("HITL_GITHUB_REPO is set but HITL_GITHUB_TOKEN is not")
        return GitHubActionsDeployer(
            client=client,
            token=settings.hitl_github_token,
            repo=settings.hitl_github_repo,
            workflow=settings.hitl_github_workflow,
            ref=settings.hitl_github_ref,
            api_url=settings.hitl_github_api_url,
        )
    if hook := _webhook(settings, DEPLOY_TOOLS.name, client):
        return DEPLOY_TOOLS.webhook(hook)
    return SimulatedDeployer(
        simulated_store(redis, DEPLOY_TOOLS), seconds=settings.hitl_simulated_deploy_seconds
    )


def _webhook(settings: Settings, name: str, client: httpx.AsyncClient) -> SignedWebhook | None:
    url, secret = settings.webhook(name)
    if not url:
        return None
    if not secret:
        upper = name.upper()
        raise AdapterConfigError(
            f"HITL_{upper}_WEBHOOK_URL is set but HITL_{upper}_WEBHOOK_SECRET is not"
        )
    return SignedWebhook(str(url), str(secret), client=client, name=name)
