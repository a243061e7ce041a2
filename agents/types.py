"""The protocols swapped in tests and the sandbox: the model and the notifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.events import ApprovalDecision, Event, HumanResponse, Thread, Usage

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
    """Why a person's click or reply was not taken. `settled` says who decided already."""

    reason: str  # one of "not_allowed", "already_settled", "stale"
    settled: ApprovalDecision | HumanResponse | None = None


class Notifier(Protocol):
    """How the runtime tells people what happened (Slack, in production)."""

    async def publish(self, thread: Thread, new_events: Sequence[Event]) -> None: ...

    async def refuse(self, thread: Thread, user: str, refusal: Refusal) -> None: ...
