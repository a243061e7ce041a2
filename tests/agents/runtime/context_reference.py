"""The context renderer as it was before it was made flat in the thread's length, kept
unchanged as the oracle of test_context_flat.py: the flat one must render exactly the same."""

from __future__ import annotations

import json
from typing import Any

import yaml

from agents.runtime.agent import Agent
from agents.runtime.events import (
    ApprovalDecision,
    BreakGlassReviewed,
    Error,
    EscalationTaken,
    Event,
    HumanResponse,
    Paused,
    ReminderSent,
    RequestExpired,
    Resumed,
    Stopped,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.runtime.thread import Thread
from agents.runtime.types import ModelRequest


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
        case (
            ReminderSent()
            | Paused()
            | Resumed()
            | Stopped()
            | BreakGlassReviewed()
            | Error(scope="delivery")
        ):
            # About the run and its people, not for the model (a stopped run asks it nothing;
            # a message Slack refused is the operators' problem).
            return ""
        case Error(message=message):
            return _tag("error", {"message": message})


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


CHARS_PER_TOKEN = 4
SUMMARY_LINE_CHARS = 120
SUMMARY_SHARE = 0.25
"""At most this share of the budget goes to the summary of older events."""


def approx_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def render_context(thread: Thread, *, budget: int | None = None) -> str:
    """The thread as the model sees it, within `budget` approximate tokens (None: no limit).
    The latest event is always shown whole."""
    rendered = [(e, text) for e in _unresolved(thread.events) if (text := render_event(e))]
    full = "\n".join(text for _, text in rendered)
    if budget is None or approx_tokens(full) <= budget:
        return full
    summary_budget = int(budget * SUMMARY_SHARE)
    kept: list[str] = []
    used = 0
    for _, text in reversed(rendered):
        cost = approx_tokens(text) + 1
        if kept and used + cost > budget - summary_budget:
            break
        kept.insert(0, text)
        used += cost
    older = [event for event, _ in rendered[: len(rendered) - len(kept)]]
    return "\n".join([summarise(older, budget=max(budget - used, summary_budget)), *kept])


def summarise(events: list[Event], *, budget: int) -> str:
    """Older events as one short line each, newest kept when the lines do not all fit."""
    lines = [_line(e) for e in events]
    shown: list[str] = []
    for line in reversed(lines):
        if approx_tokens("\n".join([line, *shown])) + 16 > budget:
            break
        shown.insert(0, line)
    body: dict[str, Any] = {"shortened": len(events)}
    if len(shown) < len(lines):
        body["not_shown"] = len(lines) - len(shown)
    body["earlier"] = shown
    return _tag("summary", body)


def _line(event: Event) -> str:
    match event:
        case UserMessage(user=user, text=text):
            line = f"{user} said: {text}"
        case ToolCall(intent=intent, arguments=arguments):
            line = f"{intent} {_compact(arguments)}"
        case ToolResult(intent=intent, output=output):
            line = f"{intent} result {_compact(output)}"
        case HumanResponse(user=user, text=text):
            line = f"{user} answered: {text}"
        case _:
            head, _, body = render_event(event).partition("\n")
            line = f"{head.strip('<>')} {body.rpartition(chr(10))[0]}"
    line = " ".join(line.split())
    return line if len(line) <= SUMMARY_LINE_CHARS else line[: SUMMARY_LINE_CHARS - 1] + "…"


def _compact(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def build_request(agent: Agent, thread: Thread) -> ModelRequest:
    """Exactly what one step sends to the model."""
    return ModelRequest(
        agent=agent.name,
        system=agent.prompt,
        context=render_context(thread, budget=agent.context_budget),
        tools=agent.tool_schemas(),
        thread=thread,
    )
