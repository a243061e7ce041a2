"""Thread events: what happened in an agent run, appended in order and never changed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.human import DoneForNow, Escalate, RequestApproval, RequestInput

APPROVAL = "request_approval"
INPUT = "request_input"
ESCALATION = "escalate"
FINAL = "done_for_now"
HUMAN_INTENTS = frozenset({APPROVAL, INPUT, ESCALATION})


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


class Terms(BaseModel):
    """What policy attached to a human request: who may settle it (user and user-group IDs;
    empty means anyone but the requester), how many distinct approvals it needs, and by when."""

    model_config = ConfigDict(frozen=True)
    deciders: tuple[str, ...] = ()
    quorum: int = Field(default=1, ge=1)
    deadline: datetime
    remind_at: datetime | None = None
    break_glass: bool = False
    """The policy rule lets the requester approve their own call with a reason (break-glass)."""
    notify: Literal["thread", "dm", "both"] | None = None
    """Where named deciders are told (a policy rule's `notify`); None: by DM too for named
    users, in the thread only for user groups."""

    @property
    def editable(self) -> bool:
        """Edit-then-approve settles a request alone, so only single-approval ones offer it."""
        return self.quorum == 1


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    at: datetime = Field(default_factory=utcnow)


class UserMessage(_Event):
    """What a person asked the agent, e.g. the mention that launched the thread."""

    type: Literal["user_message"] = "user_message"
    user: str
    text: str
    message_ts: str | None = None
    via: str | None = None
    """Who relayed the message for `user` when not Slack itself (`API token ci`)."""


class ToolCall(_Event):
    """One next step. `source` says who made it: the model, tool policy (a gated call turned
    into an approval request) or the runtime (limits). Human requests carry policy's terms."""

    type: Literal["tool_call"] = "tool_call"
    call_id: str
    intent: str
    arguments: dict[str, Any]
    source: Literal["model", "policy", "runtime"] = "model"
    usage: Usage | None = None
    terms: Terms | None = None

    # Typed views of the stored arguments as the human tool's own model. They are read back,
    # not validated again: the call was valid when made, and a stored request must still render
    # if a limit tightens later. The arguments stay stored as a plain dict (same Redis format).

    @property
    def action(self) -> dict[str, Any]:
        """The gated call of a `request_approval`, as stored: an approval is bound to its hash."""
        action: dict[str, Any] = self.arguments["action"]
        return action

    @property
    def action_intent(self) -> str:
        """The tool the gated call of a `request_approval` runs."""
        return str(self.action["intent"])

    @property
    def approval(self) -> RequestApproval[Any]:
        """This `request_approval`, typed (its `action` stays the stored dict)."""
        return RequestApproval[Any].model_construct(**self.arguments)

    @property
    def input_request(self) -> RequestInput:
        """This `request_input` (question and answer options), typed."""
        return RequestInput.model_construct(**self.arguments)

    @property
    def escalation(self) -> Escalate:
        """This `escalate` (reason and urgency), typed."""
        return Escalate.model_construct(**self.arguments)

    @property
    def final(self) -> DoneForNow:
        """This `done_for_now` (the final message), typed."""
        return DoneForNow.model_construct(**self.arguments)


class ToolResult(_Event):
    type: Literal["tool_result"] = "tool_result"
    call_id: str
    intent: str
    output: dict[str, Any]


class ApprovalDecision(_Event):
    """One person's approval or rejection of request `call_id`, bound to the hash of the call
    they were shown. `edited_action` is the call they approved instead, after editing it."""

    type: Literal["approval_decision"] = "approval_decision"
    call_id: str
    approved: bool
    user: str
    action_hash: str
    reason: str | None = None
    edited_action: dict[str, Any] | None = None
    job: str | None = None
    """The job that carried this input (its stream entry id): a redelivery is recognised."""
    via: str | None = None
    """Who relayed the decision for `user` when not Slack itself (`API token ci`)."""
    break_glass: bool = False
    """The requester approved their own call (`reason` says why); it settles the request at
    once and someone else must acknowledge it (`BreakGlassReviewed`)."""


class BreakGlassReviewed(_Event):
    """Someone other than the requester and the beneficiary acknowledged the break-glass
    approval of request `call_id`. A note: it never moves the run."""

    type: Literal["break_glass_reviewed"] = "break_glass_reviewed"
    call_id: str
    user: str
    job: str | None = None


class HumanResponse(_Event):
    """A person answered question `call_id` (or the escalation they took)."""

    type: Literal["human_response"] = "human_response"
    call_id: str
    user: str
    text: str
    message_ts: str | None = None
    job: str | None = None
    via: str | None = None
    """Who relayed the answer for `user` when not Slack itself (`API token ci`)."""


class EscalationTaken(_Event):
    """An on-call person took escalation `call_id`; the thread now waits for their answer."""

    type: Literal["escalation_taken"] = "escalation_taken"
    call_id: str
    user: str


class RequestExpired(_Event):
    """Nobody settled request `call_id` by its deadline; nothing it asked for runs."""

    type: Literal["request_expired"] = "request_expired"
    call_id: str


class ReminderSent(_Event):
    type: Literal["reminder_sent"] = "reminder_sent"
    call_id: str
    about: Literal["request", "review"] = "request"
    """`review`: a break-glass approval of `call_id` is still not acknowledged."""


class Paused(_Event):
    """Someone paused the thread: no step is taken and no click is taken until it resumes."""

    type: Literal["paused"] = "paused"
    by: str
    reason: str | None = None


class Resumed(_Event):
    type: Literal["resumed"] = "resumed"
    by: str
    reason: str | None = None


class Stopped(_Event):
    """Someone stopped the thread for good; an open request is cancelled and nothing runs."""

    type: Literal["stopped"] = "stopped"
    by: str
    reason: str | None = None


class Error(_Event):
    """A compact error. `scope="step"`: the model sees it next turn (junk output, tool failure).
    `scope="delivery"`: Slack refused a message for good and a fallback was shown; it is for the
    audit and the operators, not the model, and does not change where the run is."""

    type: Literal["error"] = "error"
    message: str
    usage: Usage | None = None
    scope: Literal["step", "delivery"] = "step"


Event = Annotated[
    UserMessage
    | ToolCall
    | ToolResult
    | ApprovalDecision
    | BreakGlassReviewed
    | HumanResponse
    | EscalationTaken
    | RequestExpired
    | ReminderSent
    | Paused
    | Resumed
    | Stopped
    | Error,
    Field(discriminator="type"),
]
