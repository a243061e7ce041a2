"""The incident micro-agent: recent deploys and open incidents are fetched by code before the
model's first step; it pages on-call with a summary and may propose a (gated) rollback."""

from __future__ import annotations

from agents.runtime.agent import Agent
from tools.deploy import ListRecentDeploys, Rollback
from tools.incidents import ListOpenIncidents

INCIDENT = Agent(
    name="incident",
    prompt_file="incident.md",
    tools=(ListRecentDeploys, ListOpenIncidents, Rollback),
    max_steps=10,
    prefetch=("list_recent_deploys", "list_open_incidents"),
    description="something is broken (errors, an outage): page on-call, maybe roll back",
)
