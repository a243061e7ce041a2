"""The flags family: turn a feature flag on or off, list the flags."""

from __future__ import annotations

import json
from typing import Literal, Protocol

from pydantic import Field

from tools.types import (
    AdapterKey,
    SimulatedStore,
    ToolContext,
    ToolFamily,
    ToolModel,
    ToolOutput,
    Webhook,
    utcnow,
)

FLAG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class SetFlag(ToolModel):
    """Turn a feature flag on or off in one environment."""

    intent: Literal["set_flag"] = "set_flag"
    flag: str = Field(pattern=FLAG_PATTERN, description="The flag's name, e.g. `new-checkout`.")
    enabled: bool = Field(description="true to turn it on, false to turn it off.")
    environment: Literal["staging", "production"]

    def summary(self) -> str:
        state = "on" if self.enabled else "off"
        return f"Turn {self.flag} {state} in {self.environment}"

    def gated_by_default(self) -> bool:
        return self.environment == "production"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(FLAGS).set_flag(self, idempotency_key=ctx.idempotency_key)


class ListFlags(ToolModel):
    """List the feature flags and their state in each environment."""

    intent: Literal["list_flags"] = "list_flags"

    def summary(self) -> str:
        return "List feature flags"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(FLAGS).list_flags()


class Flags(Protocol):
    """What an adapter of the flags family does; the simulated and the webhook one both do it."""

    async def set_flag(self, call: SetFlag, *, idempotency_key: str) -> ToolOutput: ...

    async def list_flags(self) -> ToolOutput: ...


FLAGS = AdapterKey[Flags]("flags")


class SimulatedFlags:
    """Records flag changes in Redis instead of changing anything, once per idempotency key."""

    def __init__(self, store: SimulatedStore) -> None:
        self._redis, self._key, self._ttl = store.redis, store.key, store.ttl

    async def set_flag(self, call: SetFlag, *, idempotency_key: str) -> ToolOutput:
        record = {
            "flag": call.flag,
            "enabled": call.enabled,
            "environment": call.environment,
            "at": utcnow().isoformat(),
        }
        if await self._redis.hsetnx(self._key, idempotency_key, json.dumps(record)):
            await self._redis.expire(self._key, self._ttl)
            return record
        earlier = await self._redis.hget(self._key, idempotency_key)
        return dict(json.loads(earlier)) if earlier else record

    async def list_flags(self) -> ToolOutput:
        changes = sorted(
            (json.loads(r) for r in await self._redis.hvals(self._key)), key=lambda r: str(r["at"])
        )
        state = {f"{c['flag']}@{c['environment']}": c["enabled"] for c in changes}
        return {"flags": state}


class WebhookFlags:
    """`set_flag` and `list_flags` as actions on a signed webhook."""

    def __init__(self, webhook: Webhook) -> None:
        self._webhook = webhook

    async def set_flag(self, call: SetFlag, *, idempotency_key: str) -> ToolOutput:
        arguments = call.model_dump(mode="json", exclude={"intent"})
        return await self._webhook.call("set_flag", arguments, idempotency_key=idempotency_key)

    async def list_flags(self) -> ToolOutput:
        return await self._webhook.call("list_flags", {})


FLAG_TOOLS = ToolFamily[Flags](
    tools=(SetFlag, ListFlags),
    key=FLAGS,
    simulated=SimulatedFlags,
    webhook=WebhookFlags,
    records="flags",
)
