"""The protocols swapped in tests and the sandbox: the model and the notifier."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from agents.runtime.events import Usage
from agents.runtime.thread import Thread

JsonSchema = dict[str, Any]
RefusalReason = Literal[
    "not_allowed",
    "own_benefit",
    "launched_via",
    "settled",
    "stale",
    "already_approved",
    "invalid_edit",
    "paused",
]


@dataclass(frozen=True)
class ModelRequest:
    """Exactly what a model is asked for one step. `thread` is there for the offline planner,
    which reads typed events instead of prose; HTTP clients send only the rest."""

    agent: str
    system: str
    context: str
    tools: list[JsonSchema]
    thread: Thread = field(repr=False)


@dataclass(frozen=True)
class ModelReply:
    """What a model answered: the next step as raw JSON text `{"intent": ..., ...}`, and the
    tokens it cost when the provider says."""

    text: str
    usage: Usage | None = None


class ModelError(Exception):
    """The model could not be asked (provider down, timeout); becomes an error event."""


class Model(Protocol):
    async def next_step(self, request: ModelRequest) -> ModelReply: ...


@dataclass(frozen=True)
class Refusal:
    """Why a person's click, form or reply was not taken, to tell them so."""

    reason: RefusalReason
    detail: str = ""


class Tell(BaseModel):
    """A person to tell, privately, why their click, form or reply was not taken. It waits in
    the thread's delivery ledger until shown; the thread itself does not change."""

    model_config = ConfigDict(frozen=True)
    user: str
    reason: RefusalReason
    call_id: str | None = None
    detail: str = ""


class DeliveryDeferred(Exception):
    """Slack could not be reached for a delivery (5xx, 429, timeout, connection), or another
    worker is making the same call: nothing was refused, so the outbox tries again later, at
    `at` (unix time) when that is known, else with backoff."""

    def __init__(self, why: str, *, at: float | None = None) -> None:
        super().__init__(why)
        self.at = at


class Notifier(Protocol):
    """How the runtime tells people what happened (Slack, in production). Called by the outbox
    (agents/runtime/outbox.py) for each saved event, in order, until it returns."""

    async def deliver(self, thread: Thread, index: int) -> list[str]:
        """Show people what event `index` of `thread` means: posts, updates, ephemerals. Safe to
        call again after a crash or a deferral: nothing already shown is shown twice. Returns
        what Slack refused for good (a fallback was shown instead), for the audit; raises
        `DeliveryDeferred` when Slack could not be reached."""
        ...

    async def tell(self, thread: Thread, tell: Tell) -> list[str]:
        """Tell a person privately why their input was not taken (an ephemeral); returns and
        raises like `deliver`. After a crash mid-call it may be shown twice, never lost."""
        ...

    async def working(self, thread: Thread, busy: bool) -> None:
        """Show (or stop showing) that steps are being taken in the thread (cosmetic)."""
        ...


class Directory(Protocol):
    """Resolves user-group IDs to their members (Slack's usergroups.users.list)."""

    async def members(self, ids: Collection[str]) -> frozenset[str]:
        """The user IDs named in `ids`, with every group replaced by its members."""
        ...
