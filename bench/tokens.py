"""4. Context tokens per model step (cl100k_base) for real traces (bench/trace.py), rendered our
way (`render_context`, one user message) against the standard chat-messages format: the mention as
a user message, each tool call as an assistant `tool_calls` entry, each result, decision and
answer as a `tool` message, as OpenAI's chat completions API gets them. Both are counted as the
JSON of the `messages` array, so the envelopes cost the same on both sides; the system prompt and
tool schemas, identical in both, are left out.

cl100k comes from `bpe-openai`, whose wheel embeds the token tables (tiktoken downloads them at
run time, which this machine cannot do); `hello world` → [15339, 1917] as in tiktoken."""

from __future__ import annotations

import json
from typing import Any

from bpe_openai import get_encoding

from agents.deploy import AGENT as DEPLOY
from agents.runtime.context import render_context
from agents.runtime.events import (
    ApprovalDecision,
    Event,
    HumanResponse,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.runtime.thread import Thread
from bench.common import Row

TARGET = 0.5


def chat_messages(events: list[Event]) -> list[dict[str, Any]]:
    """The thread as a chat-completions `messages` list."""
    out: list[dict[str, Any]] = []
    for event in events:
        match event:
            case UserMessage(user=user, text=text):
                out.append({"role": "user", "name": user, "content": text})
            case ToolCall(call_id=call_id, intent=intent, arguments=arguments):
                call = {"name": intent, "arguments": json.dumps(arguments)}
                tool_call = {"id": call_id, "type": "function", "function": call}
                out.append({"role": "assistant", "content": None, "tool_calls": [tool_call]})
            case ToolResult(call_id=call_id, output=output):
                out.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(output)})
            case ApprovalDecision(call_id=call_id):
                body = event.model_dump(mode="json", exclude={"at", "type", "call_id"})
                out.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(body)})
            case HumanResponse(call_id=call_id, user=user, text=text):
                body = {"from": user, "text": text}
                out.append({"role": "tool", "tool_call_id": call_id, "content": json.dumps(body)})
            case _:
                pass  # reminders, pauses: neither side shows them to the model
    return out


def run(thread: Thread, *, name: str) -> list[Row]:
    enc = get_encoding("cl100k_base")
    assert enc.encode("hello world") == [15339, 1917]

    def tokens(messages: list[dict[str, Any]]) -> int:
        return len(enc.encode(json.dumps(messages, ensure_ascii=False)))

    ours: list[int] = []
    standard: list[int] = []
    # A model step sees every event before one of its tool calls (a gated call the model made
    # is stored as the policy's approval request in its place).
    for i, event in enumerate(thread.events):
        if isinstance(event, ToolCall) and event.source in ("model", "policy"):
            before = thread.model_copy(update={"events": thread.events[:i]})
            context = render_context(before, budget=DEPLOY.context_budget)
            ours.append(tokens([{"role": "user", "content": context}]))
            standard.append(tokens(chat_messages(before.events)))
    o, s = sum(ours) / len(ours), sum(standard) / len(standard)
    saved = 1 - o / s
    return [
        Row(
            figure=f"Context tokens per step, cl100k ({name}, {len(ours)} steps)",
            ours=f"{o:.0f}",
            baseline=f"{s:.0f} (chat messages)",
            ratio=f"{o / s:.2f}× ({saved:.0%} fewer)",
            target="≥ 50% fewer",
            met=saved >= TARGET,
            note=f"per step, ours {ours} vs {standard}; the {name} trace of bench/trace.py",
        )
    ]
