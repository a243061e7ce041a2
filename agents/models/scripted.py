"""A scripted model for tests and evals: returns prepared outputs in order and records what it
was asked, so a test can drive any path, including junk and adversarial output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from agents.runtime.types import ModelError, ModelReply, ModelRequest

Script = str | dict[str, Any] | ModelReply | Exception | Callable[[ModelRequest], str]


class ScriptedModel:
    def __init__(self, *outputs: Script) -> None:
        self._outputs = list(outputs)
        self.requests: list[ModelRequest] = []

    async def next_step(self, request: ModelRequest) -> ModelReply:
        self.requests.append(request)
        if not self._outputs:
            raise ModelError("scripted model has no more outputs")
        output = self._outputs.pop(0)
        if isinstance(output, Exception):
            raise output
        if isinstance(output, ModelReply):
            return output
        if callable(output):
            return ModelReply(output(request))
        return ModelReply(output if isinstance(output, str) else json.dumps(output))
