"""The deploy family: the tools (`deploy`, `rollback`, `list_versions`, `list_recent_deploys`),
their adapter Protocol, the simulated adapter (sandbox and tests) and the signed-webhook one.
Production deploys and rollbacks need approval by default. The GitHub Actions adapter is in
`tools/github_actions.py`."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import Field, field_validator

from tools.types import (
    AdapterKey,
    RetryableToolError,
    Shown,
    SimulatedStore,
    ToolContext,
    ToolFamily,
    ToolModel,
    ToolOutput,
    Webhook,
    shown_value,
    utcnow,
)

SERVICE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
VERSION_PATTERN = r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$"
Environment = Literal["staging", "production"]


def _strip_v(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("v", "V"):
        return value[1:]
    return value


class Deploy(ToolModel):
    """Deploy one version of a service to an environment."""

    intent: Literal["deploy"] = "deploy"
    service: str = Field(pattern=SERVICE_PATTERN, description="Service name, e.g. `api`.")
    version: str = Field(
        pattern=VERSION_PATTERN, description="Semantic version, e.g. `1.4.2` (a leading v is ok)."
    )
    environment: Environment

    strip_v = field_validator("version", mode="before")(_strip_v)

    def summary(self) -> str:
        return f"Deploy {self.service} {self.version} to {self.environment}"

    def gated_by_default(self) -> bool:
        return self.environment == "production"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(DEPLOYER).deploy(
            self, idempotency_key=ctx.idempotency_key, receipt=ctx.receipt
        )


class Rollback(ToolModel):
    """Roll a service in an environment back to an earlier version (the previous deployed one
    when `to_version` is not given)."""

    intent: Literal["rollback"] = "rollback"
    service: str = Field(pattern=SERVICE_PATTERN, description="Service name, e.g. `checkout`.")
    environment: Environment
    to_version: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="Version to go back to; omit for the one deployed before the current one.",
    )
    reason: str = Field(default="", max_length=300, description="Why, in a few words.")

    strip_v = field_validator("to_version", mode="before")(_strip_v)

    def summary(self) -> str:
        # Only validated arguments: the reason is people's words, shown as a field.
        return f"Roll back {self.service} in {self.environment} to {self._target()}"

    def fields(self) -> list[Shown]:
        return [
            Shown("Service", self.service),
            Shown("Environment", self.environment),
            Shown("To version", self._target()),
            Shown("Reason", shown_value(self.reason)),
        ]

    def _target(self) -> str:
        return self.to_version or "the previous version"

    def gated_by_default(self) -> bool:
        return self.environment == "production"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(DEPLOYER).rollback(
            self, idempotency_key=ctx.idempotency_key, receipt=ctx.receipt
        )


class ListVersions(ToolModel):
    """List the versions of a service that can be deployed, newest first."""

    intent: Literal["list_versions"] = "list_versions"
    service: str = Field(pattern=SERVICE_PATTERN, description="Service name, e.g. `api`.")

    def summary(self) -> str:
        return f"List versions of {self.service}"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(DEPLOYER).list_versions(self)


class ListRecentDeploys(ToolModel):
    """List deploys and rollbacks of the last hours, newest first."""

    intent: Literal["list_recent_deploys"] = "list_recent_deploys"
    hours: int = Field(default=24, ge=1, le=168, description="How far back to look.")

    def summary(self) -> str:
        return f"List deploys of the last {self.hours} hours"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(DEPLOYER).recent_deploys(self)


class Deployer(Protocol):
    async def deploy(
        self, call: Deploy, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput: ...

    async def rollback(
        self, call: Rollback, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput: ...

    async def list_versions(self, call: ListVersions) -> ToolOutput: ...

    async def recent_deploys(self, call: ListRecentDeploys) -> ToolOutput: ...


DEPLOYER = AdapterKey[Deployer]("deploy")

SIMULATED_VERSIONS = ("1.4.2", "1.4.1", "1.4.0")
"""What every simulated service offers, besides the versions deployed in the simulation."""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split("+")[0].split("."))


class SimulatedDeployer:
    """Records deployments in Redis instead of deploying. One record per idempotency key, so a
    retried call returns the first result instead of deploying twice."""

    def __init__(self, store: SimulatedStore, *, seconds: float = 0.0) -> None:
        self._redis = store.redis
        self._key = store.key
        self._ttl = store.ttl
        self._seconds = seconds  # how long a deploy takes (crash-recovery tests, demos)

    async def deploy(
        self, call: Deploy, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        await asyncio.sleep(self._seconds)
        return await self._record(
            "deploy", call.service, call.version, call.environment, idempotency_key
        )

    async def rollback(
        self, call: Rollback, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        stored = await self._redis.hget(self._key, idempotency_key)
        if stored:
            return dict(json.loads(stored))
        target = call.to_version or await self._previous(call.service, call.environment)
        if target is None:
            raise RetryableToolError(
                f"no earlier version of {call.service} in {call.environment} to roll back to"
            )
        return await self._record(
            "rollback", call.service, target, call.environment, idempotency_key
        )

    async def list_versions(self, call: ListVersions) -> ToolOutput:
        deployed = {d["version"] for d in await self.deployments() if d["service"] == call.service}
        versions = sorted(deployed | set(SIMULATED_VERSIONS), key=_version_key, reverse=True)
        return {"service": call.service, "versions": versions}

    async def recent_deploys(self, call: ListRecentDeploys) -> ToolOutput:
        since = utcnow() - timedelta(hours=call.hours)
        history = await self.deployments()
        recent = []
        for i, record in enumerate(history):
            if datetime.fromisoformat(str(record["at"])) < since:
                continue
            before = [
                d["version"]
                for d in history[:i]
                if (d["service"], d["environment"]) == (record["service"], record["environment"])
            ]
            recent.append({**record, "previous_version": before[-1] if before else None})
        return {"hours": call.hours, "deploys": recent[::-1]}

    async def _previous(self, service: str, environment: str) -> str | None:
        versions = [
            d["version"]
            for d in await self.deployments()
            if (d["service"], d["environment"]) == (service, environment)
        ]
        return versions[-2] if len(versions) >= 2 else None

    async def _record(
        self, action: str, service: str, version: str, environment: str, idempotency_key: str
    ) -> ToolOutput:
        record: ToolOutput = {
            "deployment_id": "d-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:8],
            "action": action,
            "service": service,
            "version": version,
            "environment": environment,
            "status": "succeeded",
            "at": utcnow().isoformat(),
        }
        created = await self._redis.hsetnx(self._key, idempotency_key, json.dumps(record))
        await self._redis.expire(self._key, self._ttl)
        stored = None if created else await self._redis.hget(self._key, idempotency_key)
        return json.loads(stored) if stored else record

    async def deployments(self) -> list[ToolOutput]:
        """Every simulated deployment (deploys and rollbacks), oldest first."""
        raw = await self._redis.hvals(self._key)
        return sorted((json.loads(r) for r in raw), key=lambda r: str(r["at"]))


class WebhookDeployer:
    """Every deploy tool as an action on one signed webhook (see `tools/webhook.py`):
    `deploy` and `rollback` (with an idempotency key), `list_versions`, `recent_deploys`."""

    def __init__(self, webhook: Webhook) -> None:
        self._webhook = webhook

    async def deploy(
        self, call: Deploy, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        arguments = call.model_dump(mode="json", exclude={"intent"})
        return await self._webhook.call(
            "deploy", arguments, idempotency_key=idempotency_key, receipt=receipt
        )

    async def rollback(
        self, call: Rollback, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        arguments = call.model_dump(mode="json", exclude={"intent"})
        return await self._webhook.call(
            "rollback", arguments, idempotency_key=idempotency_key, receipt=receipt
        )

    async def list_versions(self, call: ListVersions) -> ToolOutput:
        return await self._webhook.call("list_versions", {"service": call.service})

    async def recent_deploys(self, call: ListRecentDeploys) -> ToolOutput:
        return await self._webhook.call("recent_deploys", {"hours": call.hours})


DEPLOY_TOOLS = ToolFamily[Deployer](
    tools=(Deploy, Rollback, ListVersions, ListRecentDeploys),
    key=DEPLOYER,
    simulated=SimulatedDeployer,
    webhook=WebhookDeployer,
    records="deploys",
)
