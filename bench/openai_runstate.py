"""The OpenAI Agents SDK half of figure 3, run by the interpreter of a venv of its own (see
`bench.storage.sdk_python`): the SDK's import name is `agents`, the same as ours.

Reads `{"text": ..., "steps": [[name, arguments, output or null], ...]}` on stdin, runs an SDK
`Agent` on a scripted `Model` (no network) that replays the steps, with the deploy tool marked
`needs_approval=True`, until the run is interrupted for approval; prints the length in bytes of
`result.to_state().to_string()`, the serialized `RunState` one stores to resume later."""

# mypy: ignore-errors
# (mypy resolves `agents` to this project, not to the SDK this script runs with.)
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from openai.types.responses import ResponseFunctionToolCall

from agents import (
    Agent,
    Model,
    ModelResponse,
    Runner,
    Usage,
    function_tool,
    set_tracing_disabled,
)


class ScriptedModel(Model):
    def __init__(self, steps: list[list[Any]]) -> None:
        self._steps = iter(steps)
        self._n = 0

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        name, arguments, _ = next(self._steps)
        self._n += 1
        call = ResponseFunctionToolCall(
            type="function_call",
            id=f"fc_{self._n:04d}",
            call_id=f"call_{self._n:04d}",
            name=name,
            arguments=json.dumps(arguments),
            status="completed",
        )
        return ModelResponse(output=[call], usage=Usage(), response_id=f"resp_{self._n:04d}")

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


async def main() -> None:
    set_tracing_disabled(True)  # no trace export: the run stays offline
    given = json.load(sys.stdin)
    steps: list[list[Any]] = given["steps"]
    outputs = iter(output for _, _, output in steps if output is not None)

    @function_tool
    def list_versions(service: str) -> str:
        """List the versions of a service."""
        return json.dumps(next(outputs))

    @function_tool(needs_approval=True)
    def deploy(service: str, version: str, environment: str) -> str:
        """Deploy a version of a service."""
        raise AssertionError("runs only once approved")

    agent = Agent(name="deploy", model=ScriptedModel(steps), tools=[list_versions, deploy])
    result = await Runner.run(agent, given["text"], max_turns=20)
    assert result.interruptions, "the run did not stop for approval"
    print(len(result.to_state().to_string().encode()))


if __name__ == "__main__":
    asyncio.run(main())
