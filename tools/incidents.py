"""The incidents family: `list_open_incidents` (pre-fetched for the incident agent), its adapter
Protocol, the simulated adapter and the signed-webhook one. Recent deploys come from the deploy
adapter (`list_recent_deploys`); paging on-call is the `escalate` human tool."""

from __future__ import annotations

import json
from typing import Literal, Protocol

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


class ListOpenIncidents(ToolModel):
    """List the incidents that are open right now."""

    intent: Literal["list_open_incidents"] = "list_open_incidents"

    def summary(self) -> str:
        return "List open incidents"

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(INCIDENTS).open_incidents()


class Incidents(Protocol):
    async def open_incidents(self) -> ToolOutput: ...


INCIDENTS = AdapterKey[Incidents]("incidents")


class SimulatedIncidents:
    """Open incidents kept in Redis (tests and the sandbox add them with `open`)."""

    def __init__(self, store: SimulatedStore) -> None:
        self._redis = store.redis
        self._key = store.key
        self._ttl = store.ttl

    async def open(self, incident_id: str, *, title: str, service: str) -> None:
        record = {
            "id": incident_id,
            "title": title,
            "service": service,
            "opened_at": utcnow().isoformat(),
        }
        await self._redis.hset(self._key, incident_id, json.dumps(record))
        await self._redis.expire(self._key, self._ttl)

    async def open_incidents(self) -> ToolOutput:
        raw = await self._redis.hvals(self._key)
        incidents = sorted((json.loads(r) for r in raw), key=lambda r: str(r["opened_at"]))
        return {"incidents": incidents}


class WebhookIncidents:
    """`open_incidents` as an action on a signed webhook; the answer is `{"incidents": [...]}`."""

    def __init__(self, webhook: Webhook) -> None:
        self._webhook = webhook

    async def open_incidents(self) -> ToolOutput:
        return await self._webhook.call("open_incidents", {})


INCIDENT_TOOLS = ToolFamily[Incidents](
    tools=(ListOpenIncidents,),
    key=INCIDENTS,
    simulated=SimulatedIncidents,
    webhook=WebhookIncidents,
    records="incidents",
)
