"""A micro-agent: a name, a prompt file, a handful of business tools, a hard step limit, and how
the offline model plans and the keyword router recognises its requests (docs/agents.md)."""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Union, cast

from pydantic import BaseModel, Field, TypeAdapter

from agents.runtime.events import Event
from agents.runtime.policy import Policy
from agents.runtime.thread import Thread
from tools.human import DoneForNow, Escalate, RequestApproval, RequestInput
from tools.types import Tool, ToolFamily

Step = Tool | RequestApproval[Any] | RequestInput | Escalate | DoneForNow
"""One next step: a business tool call, a human tool, or the end of the run."""

Decide = Callable[[Thread, Policy, datetime], Event]
"""A code-only agent's next step: the thread, tool policy and the time in, one event out."""


def _union(models: tuple[type[BaseModel], ...]) -> Any:
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="intent")]  # noqa: UP007


@dataclass(frozen=True)
class Agent:
    """`prompt_path` is the system prompt, a plain file next to the agent's module. `prefetch`
    names tools (without arguments) that code runs before the first model step of each request,
    so their results are in the context (factor 13). `context_budget` is how many tokens
    (approximated as characters / 4) the rendered thread may take; older events beyond it are
    summarised by code. `description` and `example` say what the agent is for (routing, help).
    `keywords` routes a mention to this agent when no LLM is configured (and when the routing
    call fails); `plan` is the agent's offline planner: thread in, the model's JSON reply out.
    `families` are the tool families its tools come from: their adapters are built for it.
    `decide`, when set, makes the agent code-only: the loop asks it, never a model, for each
    next step (the requests API's agent)."""

    name: str
    prompt_path: Path
    tools: tuple[type[BaseModel], ...]
    families: tuple[ToolFamily[Any], ...] = ()
    max_steps: int = 10
    max_consecutive_errors: int = 3
    prefetch: tuple[str, ...] = ()
    context_budget: int = 3000
    description: str = ""
    example: str = ""
    keywords: re.Pattern[str] | None = None
    plan: Callable[[Thread], str] | None = None
    decide: Decide | None = None

    def __post_init__(self) -> None:
        declared = {tool for family in self.families for tool in family.tools}
        if strays := [t.__name__ for t in self.tools if t not in declared]:
            raise ValueError(
                f"agent {self.name!r}: {', '.join(strays)} belong to none of its families; "
                "add the tool's family to `families=`"
            )

    @cached_property
    def prompt(self) -> str:
        return self.prompt_path.read_text()

    @cached_property
    def _actions(self) -> TypeAdapter[Any]:
        return TypeAdapter(_union(self.tools))

    @cached_property
    def step_models(self) -> tuple[type[BaseModel], ...]:
        """Everything the model may call: the business tools and the human tools."""
        # A generic parametrized at run time with this agent's tools, so the model sees them.
        approval: Any = RequestApproval[_union(self.tools)]  # type: ignore[misc]
        return (*self.tools, approval, RequestInput, Escalate, DoneForNow)

    @cached_property
    def _steps(self) -> TypeAdapter[Any]:
        return TypeAdapter(_union(self.step_models))

    def tool_schemas(self) -> list[dict[str, Any]]:
        """One JSON schema per tool, as the model sees them (a copy: callers may change it)."""
        return copy.deepcopy(self._tool_schemas)

    @cached_property
    def _tool_schemas(self) -> list[dict[str, Any]]:
        # Made once: pydantic builds a schema in ~10 ms, and every model step sends them all.
        return [
            {
                "name": m.model_fields["intent"].default,
                "description": inspect.getdoc(m) or "",
                "parameters": m.model_json_schema(),
            }
            for m in self.step_models
        ]

    def parse_step(self, raw: str) -> Step:
        """Validate raw model output into one typed next step (raises ValueError)."""
        step: Step = self._steps.validate_python(json.loads(raw))
        return step

    def parse_action(self, data: dict[str, Any]) -> Tool:
        """Validate a business tool call. With a known intent, by that tool's model alone, so
        error locations name its fields (`version`, not `deploy.version`)."""
        model = self.tool(str(data.get("intent")))
        if model is not None:
            return cast(Tool, model.model_validate(data))
        action: Tool = self._actions.validate_python(data)
        return action

    def tool(self, intent: str) -> type[BaseModel] | None:
        """The business tool model named `intent`."""
        return next((m for m in self.tools if m.model_fields["intent"].default == intent), None)

    def is_business(self, intent: str) -> bool:
        return any(m.model_fields["intent"].default == intent for m in self.tools)
