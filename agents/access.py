"""The access micro-agent: time-limited access grants, approved by the resource's owner and
revoked by code when they expire."""

from __future__ import annotations

from agents.runtime.agent import Agent
from tools.access import GrantAccess, RevokeAccess

ACCESS = Agent(
    name="access",
    prompt_file="access.md",
    tools=(GrantAccess, RevokeAccess),
    max_steps=10,
    description="give someone time-limited access to a resource, or take it away",
)
