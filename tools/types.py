"""What a tool gets when it runs, and the few protocols swapped in tests and the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.deploy import Deploy

ToolOutput = dict[str, Any]


class RetryableToolError(Exception):
    """A failure the model can fix (bad argument, unknown service); it sees it as an error."""


class Tool(Protocol):
    """A business tool: a pydantic model with an `intent`, run separately from its description."""

    @property
    def intent(self) -> str: ...

    def summary(self) -> str: ...

    def model_dump(self, *, mode: str = ..., exclude: set[str] | None = ...) -> dict[str, Any]: ...

    async def run(self, ctx: ToolContext) -> ToolOutput: ...


class Deployer(Protocol):
    async def deploy(self, call: Deploy, *, idempotency_key: str) -> ToolOutput: ...


@dataclass(frozen=True)
class ToolContext:
    """Passed to `tool.run`. The idempotency key is stable for one tool call, so a retried step
    never repeats the side effect."""

    thread_id: str
    requester: str
    idempotency_key: str
    deployer: Deployer
