"""Small readers and writers the offline planners share: the latest request, the answers to
its questions, and the JSON tool calls they return."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from agents.runtime.events import (
    ApprovalDecision,
    Event,
    HumanResponse,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.runtime.phrasing import normalise
from agents.runtime.thread import Thread

_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def call(intent: str, **arguments: Any) -> str:
    return json.dumps({"intent": intent, **arguments})


def humane_time(value: object) -> str:
    """A tool's ISO timestamp as people read it ("Mon 30 Nov 09:26 UTC"); the text as it is
    when it is not one. (A final message is escaped, so it cannot carry a Slack date token.)"""
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%a %d %b %H:%M UTC")


def done(message: str) -> str:
    return call("done_for_now", message=message)


def clean(text: str) -> str:
    """The text without any mentions, whitespace collapsed."""
    return " ".join(_MENTION.sub(" ", text).split())


def without_bot(text: str) -> str:
    """The text without the leading mention of the bot (other mentions stay)."""
    return " ".join(_LEADING_MENTION.sub("", text).split())


def request_text(thread: Thread) -> str:
    """The latest request as the planners read it (see `agents.runtime.phrasing`)."""
    return normalise(latest_request(thread).text)


def request_start(thread: Thread) -> int:
    """Index of the latest user message: a mention in a finished thread starts a new request
    (see `Thread.request_start`)."""
    return thread.request_start()


def latest_request(thread: Thread) -> UserMessage:
    request = thread.events[request_start(thread)]
    assert isinstance(request, UserMessage)
    return request


def answers(thread: Thread) -> list[tuple[str, str]]:
    """(question, answer) for each question of the latest request that a person answered."""
    found = []
    for event in thread.events[request_start(thread) :]:
        if isinstance(event, HumanResponse):
            asked = thread.call(event.call_id)
            if asked is not None and asked.intent == "request_input":
                found.append((str(asked.arguments.get("question", "")), event.text))
    return found


def result(thread: Thread, intent: str) -> dict[str, Any] | None:
    """The output of the latest `intent` result of the latest request."""
    for event in reversed(thread.events[request_start(thread) :]):
        if isinstance(event, ToolResult) and event.intent == intent:
            return event.output
    return None


def rejected_action(thread: Thread, decision: ApprovalDecision) -> dict[str, Any]:
    request = thread.call(decision.call_id)
    return request.action if request is not None and "action" in request.arguments else {}


def answers_escalation(thread: Thread, event: Event) -> bool:
    if not isinstance(event, HumanResponse):
        return False
    asked = thread.call(event.call_id)
    return isinstance(asked, ToolCall) and asked.intent == "escalate"
