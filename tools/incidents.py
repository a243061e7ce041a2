"""The incident tools: `list_open_incidents` (pre-fetched for the incident agent) with a
simulated adapter and a signed webhook adapter. Recent deploys come from the deploy adapter
(`list_recent_deploys`); paging on-call is the `escalate` human tool."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import utcnow
from tools.types import ToolContext, ToolOutput, missing
from tools.webhook import SignedWebhook


class ListOpenIncidents(BaseModel):
    """List the incidents that are open right now."""

    intent: Literal["list_open_incidents"] = "list_open_incidents"

    def summary(self) -> str:
        return "List open incidents"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        if ctx.incidents is None:
            raise missing("incidents")
        return await ctx.incidents.open_incidents()


class SimulatedIncidents:
    """Open incidents kept in Redis (tests and the sandbox add them with `open`)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def open(self, incident_id: str, *, title: str, service: str) -> None:
        record = {
            "id": incident_id,
            "title": title,
            "service": service,
            "opened_at": utcnow().isoformat(),
        }
        await self._redis.hset(keys.simulated_incidents(), incident_id, json.dumps(record))
        await self._redis.expire(keys.simulated_incidents(), keys.SIMULATED_TTL)

    async def open_incidents(self) -> ToolOutput:
        raw = await self._redis.hvals(keys.simulated_incidents())
        incidents = sorted((json.loads(r) for r in raw), key=lambda r: str(r["opened_at"]))
        return {"incidents": incidents}


class WebhookIncidents:
    """`open_incidents` as an action on a signed webhook; the answer is `{"incidents": [...]}`."""

    def __init__(self, webhook: SignedWebhook) -> None:
        self._webhook = webhook

    async def open_incidents(self) -> ToolOutput:
        return await self._webhook.call("open_incidents", {})
