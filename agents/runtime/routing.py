"""Routing (factor 10): a mention goes to exactly one micro-agent, decided in the worker.

With LLM_PROVIDER=offline the agents' keywords decide (the first agent whose pattern matches
the normalised text, see `agents.runtime.phrasing`).
With an LLM configured, a tiny classification call does: the same Model protocol, one `route`
tool whose `agent` is one of the agents' names or `none`. Output that is not such a call (or a
provider that is down) falls back to the keywords; when they match nothing either, the thread
gets a help reply."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

from agents.runtime.agent import Agent
from agents.runtime.context import render_event
from agents.runtime.events import FINAL, Event, ToolCall, UserMessage
from agents.runtime.phrasing import normalise
from agents.runtime.planning import clean
from agents.runtime.thread import Thread
from agents.runtime.types import Model, ModelError, ModelRequest

log = logging.getLogger(__name__)

ROUTER = "router"
NONE = "none"


@dataclass(frozen=True)
class Routed:
    """Which agent takes the thread, and the events routing itself adds (a help reply)."""

    agent: str
    via: str
    events: list[Event] = field(default_factory=list)


def help_text(agents: Sequence[Agent]) -> str:
    lines = ["I didn't catch that. I can help with:"]
    for agent in agents:
        example = f", e.g. `{agent.example}`" if agent.example else ""
        lines.append(f"• *{agent.name}*: {agent.description}{example}")
    return "\n".join(lines)


class Router:
    def __init__(self, agents: Sequence[Agent], *, model: Model | None = None) -> None:
        """`model` None routes by keywords only (LLM_PROVIDER=offline)."""
        self._agents = list(agents)
        self._names = [agent.name for agent in agents]
        self._model = model

    @cached_property
    def prompt(self) -> str:
        listing = "\n".join(f"- `{a.name}`: {a.description}" for a in self._agents)
        template = resources.files("agents.runtime").joinpath("router.md").read_text()
        return template.replace("{agents}", listing)

    def tool_schema(self) -> dict[str, Any]:
        return {
            "name": "route",
            "description": "Send the message to one agent, or `none` when no agent fits.",
            "parameters": {
                "type": "object",
                "properties": {
                    "intent": {"const": "route", "default": "route", "type": "string"},
                    "agent": {"type": "string", "enum": [*self._names, NONE]},
                },
                "required": ["agent"],
            },
        }

    def request(self, message: UserMessage) -> ModelRequest:
        """Exactly what the classification call sends."""
        thread = Thread(id="routing", agent=ROUTER, requester=message.user, events=[message])
        return ModelRequest(
            agent=ROUTER,
            system=self.prompt,
            context=render_event(message),
            tools=[self.tool_schema()],
            thread=thread,
        )

    async def route(self, message: UserMessage) -> Routed:
        if self._model is not None:
            chosen = await self._classify(message)
            if chosen == NONE:
                return self._help()
            if chosen is not None:
                return Routed(agent=chosen, via="model")
        # Polite phrasing, emoji and mentions of other people do not hide what is asked.
        words = clean(normalise(message.text))
        for agent in self._agents:
            if agent.keywords is not None and agent.keywords.search(words):
                return Routed(agent=agent.name, via="keywords")
        return self._help()

    async def _classify(self, message: UserMessage) -> str | None:
        try:
            reply = await self._model.next_step(self.request(message))  # type: ignore[union-attr]
        except ModelError as exc:
            log.warning("routing call failed (%s); using keywords", exc)
            return None
        try:
            data = json.loads(reply.text)
        except ValueError:
            data = None
        agent = data.get("agent") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("intent", "route") != "route"
            or (agent not in [*self._names, NONE])
        ):
            log.warning("routing output was not a route call: %r; using keywords", reply.text[:80])
            return None
        return str(agent)

    def _help(self) -> Routed:
        reply = ToolCall(
            call_id="c1",
            intent=FINAL,
            arguments={"message": help_text(self._agents)},
            source="runtime",
        )
        return Routed(agent=self._names[0], via="help", events=[reply])
