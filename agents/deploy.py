"""The deploy micro-agent: deploys and rolls back services, gated in production."""

from __future__ import annotations

from agents.runtime.agent import Agent
from tools.deploy import Deploy, ListVersions, Rollback

DEPLOY = Agent(
    name="deploy",
    prompt_file="deploy.md",
    tools=(Deploy, ListVersions, Rollback),
    max_steps=10,
    description="deploy a version of a service, list its versions, or roll it back",
)
