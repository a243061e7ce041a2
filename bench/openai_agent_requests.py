"""The OpenAI Agents SDK half of the billed-tokens figure, run by the interpreter of a venv of
its own (see `bench.storage.sdk_python`): the SDK's import name is `agents`, the same as ours.

Reads `{"base_url", "text", "instructions", "tools": [{"name", "description", "parameters",
"needs_approval"}], "outputs": [...]}` on stdin and runs an SDK `Agent` with the SDK's default
model (the Responses API through the `openai` client) against `base_url`, the fake provider
(bench/fake_provider.py), which scripts the steps and records each request body. Each tool is a
`FunctionTool` with the given JSON schema, as the SDK's `function_tool` makes one from a typed
function (strict schema, the SDK's default); a tool that needs approval interrupts the run,
which ends there. Prints the number of interruptions (1 expected)."""

# mypy: ignore-errors
# (mypy resolves `agents` to this project, not to the SDK this script runs with.)
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agents.strict_schema import ensure_strict_json_schema
from openai import AsyncOpenAI

from agents import (
    Agent,
    FunctionTool,
    OpenAIResponsesModel,
    Runner,
    set_tracing_disabled,
)


def _tool(spec: dict[str, Any], outputs: Any) -> FunctionTool:
    async def invoke(ctx: Any, arguments: str) -> str:
        return json.dumps(next(outputs))

    return FunctionTool(
        name=spec["name"],
        description=spec["description"],
        params_json_schema=ensure_strict_json_schema(spec["parameters"]),
        on_invoke_tool=invoke,
        strict_json_schema=True,
        needs_approval=spec["needs_approval"],
    )


async def main() -> None:
    set_tracing_disabled(True)  # no trace export: the run stays offline
    given = json.load(sys.stdin)
    outputs = iter(given["outputs"])
    client = AsyncOpenAI(base_url=given["base_url"], api_key="sk-fake", max_retries=0)
    agent = Agent(
        name="deploy",
        instructions=given["instructions"],
        model=OpenAIResponsesModel(model="gpt-4o", openai_client=client),
        tools=[_tool(spec, outputs) for spec in given["tools"]],
    )
    result = await Runner.run(agent, given["text"], max_turns=20)
    print(len(result.interruptions))


if __name__ == "__main__":
    asyncio.run(main())
