"""The deploy tools (`deploy`, `rollback`, `list_versions`, `list_recent_deploys`) and their
simulated adapter (sandbox and tests). The real adapters are in `tools/deploy_adapters.py`."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import utcnow
from tools.types import RetryableToolError, ToolContext, ToolOutput

SERVICE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
VERSION_PATTERN = r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$"
Environment = Literal["staging", "production"]


def _strip_v(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("v", "V"):
        return value[1:]
    return value


class Deploy(BaseModel):
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

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.deployer.deploy(self, idempotency_key=ctx.idempotency_key)


class Rollback(BaseModel):
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
        target = self.to_version or "the previous version"
        because = f" ({self.reason})" if self.reason else ""
        return f"Roll back {self.service} in {self.environment} to {target}{because}"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.deployer.rollback(self, idempotency_key=ctx.idempotency_key)


class ListVersions(BaseModel):
    """List the versions of a service that can be deployed, newest first."""

    intent: Literal["list_versions"] = "list_versions"
    service: str = Field(pattern=SERVICE_PATTERN, description="Service name, e.g. `api`.")

    def summary(self) -> str:
        return f"List versions of {self.service}"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.deployer.list_versions(self)


class ListRecentDeploys(BaseModel):
    """List deploys and rollbacks of the last hours, newest first."""

    intent: Literal["list_recent_deploys"] = "list_recent_deploys"
    hours: int = Field(default=24, ge=1, le=168, description="How far back to look.")

    def summary(self) -> str:
        return f"List deploys of the last {self.hours} hours"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.deployer.recent_deploys(self)


SIMULATED_VERSIONS = ("1.4.2", "1.4.1", "1.4.0")
"""What every simulated service offers, besides the versions deployed in the simulation."""


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("-")[0].split("+")[0].split("."))


class SimulatedDeployer:
    """Records deployments in Redis instead of deploying. One record per idempotency key, so a
    retried call returns the first result instead of deploying twice."""

    def __init__(self, redis: Redis, *, seconds: float = 0.0) -> None:
        self._redis = redis
        self._seconds = seconds  # how long a deploy takes (crash-recovery tests, demos)

    async def deploy(self, call: Deploy, *, idempotency_key: str) -> ToolOutput:
        await asyncio.sleep(self._seconds)
        return await self._record(
            "deploy", call.service, call.version, call.environment, idempotency_key
        )

    async def rollback(self, call: Rollback, *, idempotency_key: str) -> ToolOutput:
        stored = await self._redis.hget(keys.simulated_deploys(), idempotency_key)
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
        key = keys.simulated_deploys()
        created = await self._redis.hsetnx(key, idempotency_key, json.dumps(record))
        await self._redis.expire(key, keys.SIMULATED_TTL)
        stored = None if created else await self._redis.hget(key, idempotency_key)
        return json.loads(stored) if stored else record

    async def deployments(self) -> list[ToolOutput]:
        """Every simulated deployment (deploys and rollbacks), oldest first."""
        raw = await self._redis.hvals(keys.simulated_deploys())
        return sorted((json.loads(r) for r in raw), key=lambda r: str(r["at"]))
