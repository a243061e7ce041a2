"""The offline model: a deterministic stand-in for an LLM that needs no API key (sandbox, demos,
tests). It reads the typed thread and returns the same JSON tool calls a real model would, by
calling the offline planner each agent declares (`Agent.plan`)."""

from __future__ import annotations

from collections.abc import Sequence

from agents.runtime.agent import Agent
from agents.runtime.planning import done
from agents.runtime.types import ModelReply, ModelRequest


class OfflineModel:
    """Answers each request with the planner of the agent it is for."""

    def __init__(self, agents: Sequence[Agent]) -> None:
        self._planners = {agent.name: agent.plan for agent in agents}

    async def next_step(self, request: ModelRequest) -> ModelReply:
        planner = self._planners.get(request.agent)
        if planner is None:
            return ModelReply(
                done(f"The offline model has no planner for the `{request.agent}` agent.")
            )
        return ModelReply(planner(request.thread))
