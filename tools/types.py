"""What a tool gets when it runs, and the few protocols swapped in tests and the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.access import GrantAccess, RevokeAccess
    from tools.deploy import Deploy, ListRecentDeploys, ListVersions, Rollback

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

    async def rollback(self, call: Rollback, *, idempotency_key: str) -> ToolOutput: ...

    async def list_versions(self, call: ListVersions) -> ToolOutput: ...

    async def recent_deploys(self, call: ListRecentDeploys) -> ToolOutput: ...


class AccessGrants(Protocol):
    async def grant(
        self, call: GrantAccess, *, expires_at: datetime, idempotency_key: str
    ) -> ToolOutput: ...

    async def revoke(self, call: RevokeAccess, *, idempotency_key: str) -> ToolOutput: ...


class Incidents(Protocol):
    async def open_incidents(self) -> ToolOutput: ...


class Scheduler(Protocol):
    """Runs a tool call in a thread later, durably (the revocation of a grant on expiry)."""

    async def schedule_call(
        self, thread_id: str, call: dict[str, Any], *, at: datetime
    ) -> None: ...


@dataclass(frozen=True)
class ToolContext:
    """Passed to `tool.run`. The idempotency key is stable for one tool call, so a retried step
    never repeats the side effect. Adapters an agent's tools do not use may be None."""

    thread_id: str
    requester: str
    idempotency_key: str
    deployer: Deployer
    grants: AccessGrants | None = None
    incidents: Incidents | None = None
    scheduler: Scheduler | None = None
    now: datetime | None = None


def missing(adapter: str) -> RuntimeError:
    return RuntimeError(f"no {adapter} adapter is configured")
