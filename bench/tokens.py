"""4. Context tokens per model step (cl100k_base) for real traces (bench/trace.py), rendered our
way (`render_context`, one user message) against the standard chat-messages format: the mention as
a user message, each tool call as an assistant `tool_calls` entry, each result, decision and
answer as a `tool` message, as OpenAI's chat completions API gets them (a decision as what an
integration would tell the model: approved, by whom, why; not our action hash or empty fields).
Both are counted as billed (`billed_tokens`: each message's text as read, not JSON-escaped,
plus 3 tokens per message); the system prompt and tool schemas, identical in both, are left
out.

cl100k comes from `bpe-openai`, whose wheel embeds the token tables (tiktoken downloads them at
run time, which this machine cannot do); `hello world` → [15339, 1917] as in tiktoken.

5. Billed prompt tokens per model step (`billed_run`): the whole request body of each of the 10
model steps of the 10-step trace (bench/trace.py), captured by a fake provider
(bench/fake_provider.py) from three clients pointed at it (bench/captures.py): ours
(`OpenAIModel`, chat completions, run through the real bot), the OpenAI Agents SDK (its default
Responses API model, in a venv of its own: bench/openai_agent_requests.py) and LangGraph's
prebuilt ReAct agent (`create_react_agent` over `langchain_openai.ChatOpenAI`, chat
completions). Same instructions
(the deploy agent's prompt), same mention, same tool calls and outputs; the baselines get the
tools the way their frameworks take them: our business tools plus `request_input` and
`escalate`, with the schemas pydantic generates for their arguments, approval by the framework's
own mechanism (the SDK's `needs_approval`, LangGraph's `interrupt()`) and the final answer as
text, so no `request_approval` or `done_for_now` tool. Counted the same way on every side, as
a provider bills (`billed_tokens`): the text of each message (decoded, not JSON-escaped) plus 3
tokens per message, each tool call's name and arguments, and the tool definitions as compact
JSON of `{name, description, parameters}`; envelope fields (`type`, `strict`, ids) are not
counted on any side."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Iterable
from typing import Any

from bpe_openai import get_encoding  # type: ignore[import-untyped]

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
from bench import storage
from bench.captures import langgraph_bodies, ours_bodies, sdk_bodies
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
                # What an integration tells the model: the decision, who made it, why, and the
                # edited call if any; not our action hash, job id or empty fields.
                body = {"approved": event.approved, "by": event.user}
                body |= {"reason": event.reason} if event.reason else {}
                body |= {"edited_to": event.edited_action} if event.edited_action else {}
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
        return billed_tokens({"messages": messages})

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
            ratio=_ratio(o, s),
            target="≥ 50% fewer",
            met=saved >= TARGET,
            note=f"per step, ours {ours} vs {standard}; the {name} trace of bench/trace.py",
        )
    ]


BILLED_TARGET = 0.6
PER_MESSAGE = 3
"""Tokens a chat model's template adds around each message (OpenAI's counting guide)."""
REPLY_PRIMING = 3


def billed_tokens(body: dict[str, Any]) -> int:
    """The prompt tokens of one request body, chat completions or responses, as billed."""
    enc = get_encoding("cl100k_base")
    texts, messages = _prompt_texts(body)
    tools = [_tool_definition(tool) for tool in body.get("tools", [])]
    counted = sum(len(enc.encode(text)) for text in texts)
    schema = json.dumps(tools, ensure_ascii=False, separators=(",", ":")) if tools else ""
    return counted + messages * PER_MESSAGE + REPLY_PRIMING + len(enc.encode(schema))


_ROLE_OF_ITEM = {"function_call": "assistant", "function_call_output": "tool"}


def _prompt_texts(body: dict[str, Any]) -> tuple[list[str], int]:
    """Every text a model reads in `body`, and the number of messages they come in."""
    texts: list[str] = []
    items: list[dict[str, Any]] = list(body.get("messages", []))
    if instructions := body.get("instructions"):
        items.insert(0, {"role": "system", "content": instructions})
    given = body.get("input", [])
    items += [{"role": "user", "content": given}] if isinstance(given, str) else given
    for item in items:
        texts += _item_texts(item)
    return texts, len(items)


def _item_texts(item: dict[str, Any]) -> list[str]:
    """The texts of one chat message or responses input item. A responses item has no role: it
    reads as the chat message it stands for (a call as the assistant's, its output as a tool's)."""
    role = item.get("role") or _ROLE_OF_ITEM.get(str(item.get("type")), "")
    texts = [str(role), *_content(item.get("content"))]
    if item.get("role") and item.get("name"):
        texts.append(str(item["name"]))  # a named speaker
    if item.get("type") == "function_call":
        texts += [str(item["name"]), str(item["arguments"])]
    if "output" in item:
        texts.append(str(item["output"]))
    for call in item.get("tool_calls") or []:
        texts += [str(call["function"]["name"]), str(call["function"]["arguments"])]
    return [text for text in texts if text]


def _content(content: Any) -> list[str]:
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    return [str(part.get("text", "")) for part in content if isinstance(part, dict)]


def _tool_definition(tool: dict[str, Any]) -> dict[str, Any]:
    """`{name, description, parameters}` of a chat (`{type, function}`) or responses tool."""
    spec = tool.get("function", tool)
    return {key: spec[key] for key in ("name", "description", "parameters") if key in spec}


def _prompt_tokens() -> int:
    """The deploy agent's prompt as a system message, without the reply priming."""
    return (
        billed_tokens({"messages": [{"role": "system", "content": DEPLOY.prompt}]}) - REPLY_PRIMING
    )


def _ratio(ours: float, theirs: float) -> str:
    saved = 1 - ours / theirs
    return (
        f"{ours / theirs:.2f}× ({saved:.0%} fewer)"
        if saved >= 0
        else f"{ours / theirs:.2f}× ({-saved:.0%} more)"
    )


def _row(name: str, ours: list[int], theirs: list[int]) -> Row:
    o, t = statistics.median(ours), statistics.median(theirs)
    saved = 1 - o / t
    return Row(
        figure=f"Billed prompt tokens per step vs {name} (10 steps)",
        ours=f"{o:.0f} (step 10: {ours[-1]})",
        baseline=f"{t:.0f} (step 10: {theirs[-1]})",
        ratio=_ratio(o, t),
        target="≥ 60% fewer",
        met=saved >= BILLED_TARGET,
        note=f"median over the 10 steps; per step, ours {ours} vs {theirs}; whole request "
        "bodies captured by bench/fake_provider.py, counted by bench/tokens.billed_tokens; "
        f"the system prompt all sides share is {_prompt_tokens()} of each step, so 60% fewer "
        f"than {theirs[-1]} at step 10 leaves {0.4 * theirs[-1] - _prompt_tokens():.0f} "
        "tokens for every tool schema and all 19 events; token counts are deterministic "
        "(no spread)",
    )


async def billed_run(*, make_sdk_venv: bool = True) -> list[Row]:
    """Rows for figure 5. Without `make_sdk_venv` the SDK row is measured only if its venv
    already exists (bench/storage.py makes it)."""
    bodies, thread = await ours_bodies()
    text, steps = storage.scenario(thread)
    outputs = [output for _, _, output in steps if output is not None]
    ours = [billed_tokens(body) for body in bodies]
    assert len(ours) == 10, len(ours)
    baselines: dict[str, list[dict[str, Any]] | None] = {
        "LangGraph create_react_agent": await langgraph_bodies(text, outputs)
    }
    python = storage.sdk_python(create=make_sdk_venv)
    sdk = await asyncio.to_thread(sdk_bodies, text, outputs, python=python) if python else None
    baselines["OpenAI Agents SDK"] = sdk
    rows = []
    for name, theirs in baselines.items():
        if theirs is None:
            rows.append(
                Row(
                    figure=f"Billed prompt tokens per step vs {name} (10 steps)",
                    ours=f"{statistics.median(ours):.0f}",
                    baseline="not measured",
                    ratio="—",
                    target="≥ 60% fewer",
                    met=None,
                    note=f"no venv at {storage.SDK_VENV} yet; a full run makes it",
                )
            )
            continue
        counts = [billed_tokens(body) for body in theirs]
        assert len(counts) == 10, (name, len(counts))
        rows.append(_row(name, ours, counts))
    return rows


def per_step(rows: Iterable[Row]) -> str:
    """The rows' notes, one a line (for `python -m bench.tokens`)."""
    return "\n".join(
        f"{row.figure}: {row.ours} vs {row.baseline}, {row.ratio}\n  {row.note}" for row in rows
    )


if __name__ == "__main__":
    print(per_step(asyncio.run(billed_run())))
