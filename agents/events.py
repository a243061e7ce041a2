"""The thread: an append-only list of typed events. Everything else (status, what waits on whom)
is derived from the events, so the thread is the whole execution and business state (factor 5)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

HUMAN_INTENTS = frozenset({"request_approval", "request_input"})
FINAL_INTENT = "done_for_now"


def utcnow() -> datetime:
    return datetime.now(UTC)


def call_hash(call: dict[str, Any]) -> str:
    """Hash of a tool call (`{"intent": ..., **arguments}`); an approval is bound to it."""
    canonical = json.dumps(call, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class Usage(BaseModel):
    """Tokens one model call used."""

    model_config = ConfigDict(frozen=True)
    input_tokens: int
    output_tokens: int


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    at: datetime = Field(default_factory=utcnow)


class UserMessage(_Event):
    """What a person asked the agent, e.g. the mention that launched the thread."""

    type: Literal["user_message"] = "user_message"
    user: str
    text: str
    message_ts: str | None = None


class ToolCall(_Event):
    """One next step. `source` says who made it: the model, tool policy (a gated call turned
    into an approval request) or the runtime (limits)."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str
    intent: str
    arguments: dict[str, Any]
    source: Literal["model", "policy", "runtime"] = "model"
    usage: Usage | None = None

    @property
    def action(self) -> dict[str, Any]:
        """The gated call of a `request_approval`."""
        action: dict[str, Any] = self.arguments["action"]
        return action


class ToolResult(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    intent: str
    output: dict[str, Any]


class ApprovalDecision(_Event):
    """A person approved or rejected the pending `request_approval` call `call_id`."""

    type: Literal["approval_decision"] = "approval_decision"
    call_id: str
    approved: bool
    user: str
    action_hash: str
    reason: str | None = None


class HumanResponse(_Event):
    """A person answered the pending `request_input` call `call_id`."""

    type: Literal["human_response"] = "human_response"
    call_id: str
    user: str
    text: str
    message_ts: str | None = None


class Error(_Event):
    """A compact error the model sees next turn (junk output, tool failure)."""

    type: Literal["error"] = "error"
    message: str
    usage: Usage | None = None


Event = Annotated[
    UserMessage | ToolCall | ToolResult | ApprovalDecision | HumanResponse | Error,
    Field(discriminator="type"),
]


class Status(StrEnum):
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    WAITING_INPUT = "waiting_input"
    DONE = "done"


class SlackOrigin(BaseModel):
    """Where in Slack the thread lives and reports to."""

    model_config = ConfigDict(frozen=True)
    channel: str
    thread_ts: str


class Thread(BaseModel):
    """An agent run. `version` is bumped by every save (compare-and-set)."""

    id: str
    agent: str
    requester: str
    origin: SlackOrigin | None = None
    events: list[Event] = Field(default_factory=list)
    version: int = 0
    created_at: datetime = Field(default_factory=utcnow)

    def append(self, *events: Event) -> Thread:
        return self.model_copy(update={"events": [*self.events, *events]})

    @property
    def status(self) -> Status:
        last = self.events[-1] if self.events else None
        if isinstance(last, ToolCall):
            if last.intent == "request_approval":
                return Status.WAITING_APPROVAL
            if last.intent == "request_input":
                return Status.WAITING_INPUT
            if last.intent == FINAL_INTENT:
                return Status.DONE
        return Status.RUNNING

    @property
    def pending(self) -> ToolCall | None:
        """The human request the thread is waiting on, if any."""
        last = self.events[-1] if self.events else None
        if isinstance(last, ToolCall) and last.intent in HUMAN_INTENTS:
            return last
        return None

    def call(self, call_id: str) -> ToolCall | None:
        return next(
            (e for e in self.events if isinstance(e, ToolCall) and e.call_id == call_id), None
        )

    def settlement(self, call_id: str) -> ApprovalDecision | HumanResponse | None:
        """How the human request `call_id` ended, if it has."""
        for event in self.events:
            if isinstance(event, ApprovalDecision | HumanResponse) and event.call_id == call_id:
                return event
        return None

    def has_message(self, message_ts: str) -> bool:
        """Whether the Slack message `message_ts` was already taken in (a duplicate delivery)."""
        return any(
            isinstance(e, UserMessage | HumanResponse) and e.message_ts == message_ts
            for e in self.events
        )

    def model_steps(self) -> int:
        return sum(1 for e in self.events if isinstance(e, ToolCall) and e.source == "model")

    def consecutive_errors(self) -> int:
        count = 0
        for event in reversed(self.events):
            if not isinstance(event, Error):
                break
            count += 1
        return count
