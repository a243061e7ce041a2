"""Render a thread as the model sees it (factor 3): one tag per event with a YAML body, oldest
first. Not a chat transcript; errors that a later successful step resolved are left out."""

from __future__ import annotations

from typing import Any

import yaml

from agents.agent import Agent
from agents.events import (
    ApprovalDecision,
    Error,
    EscalationTaken,
    Event,
    HumanResponse,
    ReminderSent,
    RequestExpired,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.thread import Thread
from agents.types import ModelRequest


def _yaml(body: dict[str, Any]) -> str:
    return yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100).strip()


def _tag(name: str, body: dict[str, Any]) -> str:
    return f"<{name}>\n{_yaml(body)}\n</{name}>"


def render_event(event: Event) -> str:
    match event:
        case UserMessage(user=user, text=text):
            return _tag("user_message", {"from": user, "text": text})
        case ToolCall(intent=intent, arguments=arguments):
            return _tag(intent, arguments)
        case ToolResult(intent=intent, output=output):
            return _tag(f"{intent}_result", output)
        case ApprovalDecision():
            return _tag("approval_decision", _decision(event))
        case HumanResponse(user=user, text=text):
            return _tag("human_response", {"from": user, "text": text})
        case EscalationTaken(user=user):
            return _tag("escalation_taken", {"by": user})
        case RequestExpired():
            return _tag("request_expired", {"result": "nobody decided in time; nothing ran"})
        case Error(message=message):
            return _tag("error", {"message": message})
        case ReminderSent():
            return ""


def _decision(event: ApprovalDecision) -> dict[str, Any]:
    body: dict[str, Any] = {"approved": event.approved, "by": event.user}
    if event.reason:
        body["reason"] = event.reason
    if event.edited_action:
        body["edited_to"] = event.edited_action
    return body


def _unresolved(events: list[Event]) -> list[Event]:
    last_result = max((i for i, e in enumerate(events) if isinstance(e, ToolResult)), default=-1)
    return [e for i, e in enumerate(events) if not (isinstance(e, Error) and i < last_result)]


def render_context(thread: Thread) -> str:
    return "\n".join(filter(None, (render_event(e) for e in _unresolved(thread.events))))


def build_request(agent: Agent, thread: Thread) -> ModelRequest:
    """Exactly what one step sends to the model."""
    return ModelRequest(
        agent=agent.name,
        system=agent.prompt,
        context=render_context(thread),
        tools=agent.tool_schemas(),
        thread=thread,
    )
