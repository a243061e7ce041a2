"""The tools' adapters, chosen from settings: a real one when its settings are present, else
the simulated one that records in Redis (sandbox, tests).

  deploys    HITL_GITHUB_REPO (+ HITL_GITHUB_TOKEN): GitHub Actions workflow_dispatch;
             else HITL_DEPLOY_WEBHOOK_URL (+ _SECRET): the signed webhook; else simulated
  access     HITL_ACCESS_WEBHOOK_URL (+ _SECRET): the signed webhook; else simulated
  incidents  HITL_INCIDENTS_WEBHOOK_URL (+ _SECRET): the signed webhook; else simulated
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

from bot.settings import Settings
from tools.access import SimulatedAccess, WebhookAccess
from tools.deploy import SimulatedDeployer
from tools.deploy_adapters import GitHubActionsDeployer, WebhookDeployer
from tools.incidents import SimulatedIncidents, WebhookIncidents
from tools.types import AccessGrants, Deployer, Incidents
from tools.webhook import TIMEOUT, SignedWebhook


class AdapterConfigError(ValueError):
    """An adapter is half configured; the message names the missing setting."""


@dataclass
class Adapters:
    deployer: Deployer
    grants: AccessGrants
    incidents: Incidents
    client: httpx.AsyncClient

    async def aclose(self) -> None:
        await self.client.aclose()


def build_adapters(settings: Settings, redis: Redis) -> Adapters:
    client = httpx.AsyncClient(timeout=TIMEOUT)
    deployer: Deployer = SimulatedDeployer(redis, seconds=settings.hitl_simulated_deploy_seconds)
    if settings.hitl_github_repo:
        if not settings.hitl_github_token:
            raise AdapterConfigError("HITL_GITHUB_REPO is set but HITL_GITHUB_TOKEN is not")
        deployer = GitHubActionsDeployer(
            client=client,
            token=settings.hitl_github_token,
            repo=settings.hitl_github_repo,
            workflow=settings.hitl_github_workflow,
            ref=settings.hitl_github_ref,
            api_url=settings.hitl_github_api_url,
        )
    elif hook := _webhook(settings, "deploy", client):
        deployer = WebhookDeployer(hook)
    grants: AccessGrants = SimulatedAccess(redis)
    if hook := _webhook(settings, "access", client):
        grants = WebhookAccess(hook)
    incidents: Incidents = SimulatedIncidents(redis)
    if hook := _webhook(settings, "incidents", client):
        incidents = WebhookIncidents(hook)
    return Adapters(deployer=deployer, grants=grants, incidents=incidents, client=client)


def _webhook(settings: Settings, name: str, client: httpx.AsyncClient) -> SignedWebhook | None:
    url = getattr(settings, f"hitl_{name}_webhook_url")
    secret = getattr(settings, f"hitl_{name}_webhook_secret")
    if not url:
        return None
    if not secret:
        upper = name.upper()
        raise AdapterConfigError(
            f"HITL_{upper}_WEBHOOK_URL is set but HITL_{upper}_WEBHOOK_SECRET is not"
        )
    return SignedWebhook(str(url), str(secret), client=client, name=name)
