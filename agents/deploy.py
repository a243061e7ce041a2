"""The deploy micro-agent: turns a deploy request into one gated `deploy` call."""

from __future__ import annotations

from agents.agent import Agent
from tools.deploy import Deploy

DEPLOY = Agent(name="deploy", prompt_file="deploy.md", tools=(Deploy,), max_steps=10)
