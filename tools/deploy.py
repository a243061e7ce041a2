"""The `deploy` tool and its simulated adapter (sandbox and tests)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from redis.asyncio import Redis

from agents import keys
from agents.events import utcnow
from tools.types import ToolContext, ToolOutput

SERVICE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
VERSION_PATTERN = r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$"


class Deploy(BaseModel):
    """Deploy one version of a service to an environment."""

    intent: Literal["deploy"] = "deploy"
    service: str = Field(pattern=SERVICE_PATTERN, description="Service name, e.g. `api`.")
    version: str = Field(
        pattern=VERSION_PATTERN, description="Semantic version, e.g. `1.4.2` (a leading v is ok)."
    )
    environment: Literal["staging", "production"]

    @field_validator("version", mode="before")
    @classmethod
    def _strip_v(cls, value: object) -> object:
        if isinstance(value, str) and value[:1] in ("v", "V"):
            return value[1:]
        return value

    def summary(self) -> str:
        return f"Deploy {self.service} {self.version} to {self.environment}"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.deployer.deploy(self, idempotency_key=ctx.idempotency_key)


class SimulatedDeployer:
    """Records deployments in Redis instead of deploying. One record per idempotency key, so a
    retried call returns the first result instead of deploying twice."""

    def __init__(self, redis: Redis, *, seconds: float = 0.0) -> None:
        self._redis = redis
        self._seconds = seconds  # how long a deploy takes (crash-recovery tests, demos)

    async def deploy(self, call: Deploy, *, idempotency_key: str) -> ToolOutput:
        await asyncio.sleep(self._seconds)
        record: ToolOutput = {
            "deployment_id": "d-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:8],
            "service": call.service,
            "version": call.version,
            "environment": call.environment,
            "status": "succeeded",
            "at": utcnow().isoformat(),
        }
        key = keys.simulated_deploys()
        created = await self._redis.hsetnx(key, idempotency_key, json.dumps(record))
        await self._redis.expire(key, keys.SIMULATED_TTL)
        stored = None if created else await self._redis.hget(key, idempotency_key)
        return json.loads(stored) if stored else record

    async def deployments(self) -> list[ToolOutput]:
        """Every simulated deployment, oldest first."""
        raw = await self._redis.hvals(keys.simulated_deploys())
        return sorted((json.loads(r) for r in raw), key=lambda r: str(r["at"]))
