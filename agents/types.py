"""The protocols swapped in tests and the sandbox: the model and the notifier."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from agents.events import Event, Usage
from agents.thread import Outcome, Thread

JsonSchema = dict[str, Any]


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

    reason: Literal["not_allowed", "settled", "stale", "already_approved", "invalid_edit", "paused"]
    outcome: Outcome | None = None
    detail: str = ""
    call_id: str | None = None


class Notifier(Protocol):
    """How the runtime tells people what happened (Slack, in production)."""

    async def publish(self, thread: Thread, new_events: Sequence[Event]) -> None: ...

    async def refuse(self, thread: Thread, user: str, refusal: Refusal) -> None: ...

    async def working(self, thread: Thread, busy: bool) -> None:
        """Show (or stop showing) that steps are being taken in the thread."""
        ...


class Directory(Protocol):
    """Resolves user-group IDs to their members (Slack's usergroups.users.list)."""

    async def members(self, ids: Collection[str]) -> frozenset[str]:
        """The user IDs named in `ids`, with every group replaced by its members."""
        ...
