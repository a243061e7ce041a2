"""Which micro-agents this bot runs: `HITL_AGENTS`, a comma-separated list of built-in names
(`deploy`, `access`, `incident`) and dotted module paths of your own (`mypkg.triage`). Each module
defines `AGENT = Agent(...)` (docs/agents.md). The order matters: keyword routing tries the
agents in this order, and the first one takes what nothing else matches."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from agents.runtime.agent import Agent

BUILT_IN = ("deploy", "access", "incident")


class AgentLoadError(ValueError):
    """An entry of HITL_AGENTS cannot be loaded; the message names it and says why."""


def load_agents(names: Sequence[str]) -> list[Agent]:
    """The agents `names` point at, in order: a bare name is a built-in (`agents.<name>`)."""
    if not names:
        raise AgentLoadError(f"HITL_AGENTS is empty; the built-in agents are {','.join(BUILT_IN)}")
    agents = [_load(name) for name in names]
    seen: dict[str, str] = {}
    for name, agent in zip(names, agents, strict=True):
        if agent.name in seen:
            raise AgentLoadError(
                f"HITL_AGENTS: {seen[agent.name]} and {name} both define an agent named "
                f"{agent.name!r}"
            )
        seen[agent.name] = name
    return agents


def _load(name: str) -> Agent:
    if "." not in name and name not in BUILT_IN:
        raise AgentLoadError(
            f"HITL_AGENTS: no built-in agent {name!r} (built-in: {', '.join(BUILT_IN)}; "
            "your own agents are dotted module paths such as mypkg.triage)"
        )
    module_name = name if "." in name else f"agents.{name}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentLoadError(f"HITL_AGENTS: cannot import {module_name}: {exc}") from exc
    agent = getattr(module, "AGENT", None)
    if not isinstance(agent, Agent):
        raise AgentLoadError(f"HITL_AGENTS: {module_name} defines no `AGENT = Agent(...)`")
    return agent
