"""Render a thread as the model sees it (factor 3): one tag per event with a YAML body, oldest
first. Not a chat transcript; errors that a later successful step resolved are left out.

Each agent has a token budget for its context. Tokens are approximated as characters / 4 (close
enough for English and YAML with the common tokenizers, and it needs no tokenizer). When the
rendered events exceed the budget, the newest events that fit stay as they are and the older
ones are summarised by code, one short line each, in a `<summary>` tag at the top; if even those
lines do not fit, the oldest are counted instead of shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
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


CHARS_PER_TOKEN = 4
SUMMARY_LINE_CHARS = 120
SUMMARY_SHARE = 0.25
"""At most this share of the budget goes to the summary of older events."""


def approx_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


RENDER_CACHE_SIZE = 50_000
"""Rendered events kept per process (a few hundred bytes each): enough for every event of the
threads a worker is busy with, so a step renders only the events it has not seen."""
_Key = tuple[str, str, int, str]
_memo: dict[_Key, tuple[Event, str]] = {}


def _memoised(key: _Key, event: Event, make: Callable[[Event], str]) -> str:
    """`make(event)`, once per process. Events never change once appended, so what is made of
    one is memoised by (thread, created_at, index, what). A hit counts only for the same kind
    of event made at the same microsecond, so a thread id reused by another thread (or a
    thread built by hand) is not shown another event's text; a full comparison would cost
    as much per event as the lookup saves."""
    hit = _memo.get(key)
    if hit is not None and (
        hit[0] is event or (type(hit[0]) is type(event) and hit[0].at == event.at)
    ):
        return hit[1]
    text = make(event)
    if len(_memo) >= RENDER_CACHE_SIZE:
        del _memo[next(iter(_memo))]  # the oldest: a thread nobody stepped for long
    _memo[key] = (event, text)
    return text


def render_context(thread: Thread, *, budget: int | None = None) -> str:
    """The thread as the model sees it, within `budget` approximate tokens (None: no limit).
    The latest event is always shown whole. Flat in the thread's length: each event is
    rendered once per process (events are immutable), and the newest events are walked back
    only as far as the budget goes; older ones are only counted, and summarised newest first
    as far as the summary's share goes."""
    events = thread.events
    created = thread.created_at.isoformat()
    shown = _shown(events)

    def text(i: int) -> str:
        return _memoised((thread.id, created, i, "tag"), events[i], render_event)

    if budget is None:
        return "\n".join(text(i) for i in shown)
    newest: list[str] = []  # newest first, until they exceed the budget together
    size = -1
    for i in reversed(shown):
        newest.append(text(i))
        size += len(newest[-1]) + 1
        if -(-size // CHARS_PER_TOKEN) > budget:
            break
    else:
        return "\n".join(reversed(newest))
    summary_budget = int(budget * SUMMARY_SHARE)
    kept: list[str] = []
    used = 0
    for item in newest:  # never all of them: together they exceed the budget
        cost = approx_tokens(item) + 1
        if kept and used + cost > budget - summary_budget:
            break
        kept.append(item)
        used += cost
    older = shown[: len(shown) - len(kept)]

    def line(j: int) -> str:
        return _memoised((thread.id, created, older[j], "line"), events[older[j]], _line)

    summary = _summary(len(older), line, budget=max(budget - used, summary_budget))
    return "\n".join([summary, *reversed(kept)])


_SILENT = (ReminderSent, Paused, Resumed, Stopped, BreakGlassReviewed)


def _shown(events: list[Event]) -> list[int]:
    """Indexes of the events the model sees: not notes (see `render_event`), and not errors
    that a later tool result resolved. One cheap pass, no rendering."""
    last_result = next(
        (i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], ToolResult)), -1
    )
    return [
        i
        for i, e in enumerate(events)
        if not isinstance(e, _SILENT)
        and not (isinstance(e, Error) and (e.scope == "delivery" or i < last_result))
    ]


def summarise(events: list[Event], *, budget: int) -> str:
    """Older events as one short line each, newest kept when the lines do not all fit."""
    return _summary(len(events), lambda j: _line(events[j]), budget=budget)


def _summary(count: int, line_at: Callable[[int], str], *, budget: int) -> str:
    """The summary tag of `count` lines (`line_at(j)` makes line j), made newest first only
    until the budget is spent; the YAML of each line shown is made once per process."""
    shown: list[str] = []
    size = 0
    for j in range(count - 1, -1, -1):
        line = line_at(j)
        if -(-(size + len(line) + (1 if shown else 0)) // CHARS_PER_TOKEN) + 16 > budget:
            break
        shown.append(line)
        size += len(line) + (1 if len(shown) > 1 else 0)
    head = f"shortened: {count}\n"
    if len(shown) < count:
        head += f"not_shown: {count - len(shown)}\n"
    items = "\n".join(_summary_item(line) for line in reversed(shown))
    body = head + ("earlier:\n" + items if shown else "earlier: []")
    return f"<summary>\n{body}\n</summary>"


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def _summary_item(line: str) -> str:
    """One line of the summary as PyYAML writes it in the `earlier` list (wrapped, quoted)."""
    return _yaml({"earlier": [line]}).removeprefix("earlier:\n")


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
