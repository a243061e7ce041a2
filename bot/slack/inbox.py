"""What waits for a person's decision: the pending approvals they may decide, policy-checked.

One query function (`waiting_for`), so a pending-request index can replace the scan later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agents.runtime.agent import Agent
from agents.runtime.events import APPROVAL, ToolCall
from agents.runtime.policy import may_approve
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from agents.runtime.types import Directory
from bot.slack import command_messages, messages

MAX_SHOWN = 20


@dataclass(frozen=True)
class Waiting:
    thread: Thread
    request: ToolCall


async def waiting_for(
    user: str,
    *,
    store: ThreadStore,
    agents: Mapping[str, Agent],
    directory: Directory | None = None,
) -> list[Waiting]:
    """Every open approval `user` may approve (the same rule as a click: not their own request,
    not a call they gain from, one of its deciders), oldest first."""
    found: list[Waiting] = []
    for thread_id in await store.thread_ids():
        thread = await store.load(thread_id)
        request = thread.open_request() if thread else None
        if thread is None or request is None or request.intent != APPROVAL:
            continue
        if await _may_approve(user, thread, request, agents.get(thread.agent), directory):
            found.append(Waiting(thread, request))
    return sorted(found, key=lambda w: w.request.at)


async def _may_approve(
    user: str,
    thread: Thread,
    request: ToolCall,
    agent: Agent | None,
    directory: Directory | None,
) -> bool:
    deciders = request.terms.deciders if request.terms else ()
    allowed = None
    if deciders:
        allowed = await directory.members(deciders) if directory else frozenset(deciders)
    gainers: set[str] = set()
    if agent is not None:
        try:
            beneficiary = agent.parse_action(dict(request.action)).beneficiary()
        except ValueError:
            beneficiary = None
        gainers = {beneficiary} if beneficiary else set()
    requester = thread.requester_of(request.call_id)
    return may_approve(user, requester=requester, allowed=allowed, beneficiaries=gainers)


def render(waiting: list[Waiting], agents: Mapping[str, Agent]) -> str:
    """The ephemeral `/hitl inbox` answers with."""
    if not waiting:
        return command_messages.EMPTY_INBOX
    lines = [command_messages.INBOX_HEADER]
    for item in waiting[:MAX_SHOWN]:
        thread, request = item.thread, item.request
        lines.append(
            command_messages.inbox_line(
                _summary(request, agents.get(thread.agent)),
                thread.requester_of(request.call_id),
                thread.origin.channel if thread.origin else None,
                request.terms.deadline if request.terms else request.at,
            )
        )
    if len(waiting) > MAX_SHOWN:
        lines.append(f"…and {len(waiting) - MAX_SHOWN} more.")
    return "\n".join(lines)


def _summary(request: ToolCall, agent: Agent | None) -> str:
    try:
        tool = agent.parse_action(dict(request.action)) if agent else None
    except ValueError:
        tool = None
    if tool is None:
        return messages.unknown_tool_summary(request.action_intent)
    users = [f.value for f in tool.fields() if f.user]
    return messages.call_summary(tool.summary(), users)
