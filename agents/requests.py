"""The `requests` agent: code-only, it runs the human-contact requests API (`/api/requests`).

A request is a thread like any other. Its first events are the message that asked and the
request as the API took it (a `ToolResult` of intent `api_request`, so it is stored and audited
with the thread); the agent's code then asks exactly one question, `request_approval` of an
`ExternalAction` or `request_input`, with the terms policy gives, narrowed by the request's own
approvers, quorum and timeout. Cards, DMs, App Home, reminders, expiry, audit and break-glass
work as for every agent. `view` is how the API and its webhooks show a request."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.runtime.agent import Agent
from agents.runtime.events import (
    APPROVAL,
    FINAL,
    INPUT,
    ApprovalDecision,
    Event,
    HumanResponse,
    Terms,
    ToolCall,
    ToolResult,
)
from agents.runtime.policy import REMIND_AT, Policy
from agents.runtime.thread import Status, Thread
from tools.external import EXTERNAL_TOOLS, ExternalAction
from tools.types import SLACK_USER

NAME = "requests"
SPEC = "api_request"
"""The intent of the event that holds the request as the API took it."""

RequestStatus = Literal["waiting", "approved", "rejected", "answered", "expired", "cancelled"]
SlackId = Annotated[str, Field(pattern=r"^[USW][A-Z0-9]+$")]


class InvalidField(ValueError):
    """A field passed the schema but not the server's rules (a 422 naming it)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    arguments: dict[str, Any] = Field(default_factory=dict)


class NewRequest(BaseModel):
    """`POST /api/requests`: ask a person in Slack to approve an action or answer a question."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["approval", "input"]
    channel: str = Field(pattern=r"^[CGD][A-Z0-9]+$", description="Slack channel ID to ask in.")
    requested_by: str = Field(
        default="api",
        min_length=1,
        max_length=64,
        description="On whose behalf (a Slack user ID or a name); it cannot approve its request.",
    )
    summary: str = Field(default="", max_length=500, description="One line: what and why.")
    action: Action | None = Field(default=None, description="What to approve (approval).")
    beneficiary: str | None = Field(
        default=None, pattern=SLACK_USER, description="Who gains; may not approve."
    )
    question: str | None = Field(default=None, min_length=1, max_length=500)
    options: list[Annotated[str, Field(min_length=1, max_length=75)]] = Field(
        default_factory=list, max_length=5
    )
    approvers: list[SlackId] = Field(default_factory=list, max_length=50)
    quorum: int | None = Field(default=None, ge=1, le=10)
    timeout_seconds: int | None = Field(default=None, ge=60, le=30 * 24 * 3600)
    callback_url: str | None = Field(default=None, max_length=2000)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _complete(self) -> NewRequest:
        if self.kind == "approval" and self.action is None:
            raise ValueError("an approval needs `action` ({name, arguments})")
        if self.kind == "approval" and not self.summary.strip():
            raise ValueError("an approval needs a `summary`")
        if self.kind == "input" and self.question is None:
            raise ValueError("an input request needs a `question`")
        return self

    def external_action(self) -> ExternalAction | None:
        """The action an approval asks about; None for a question."""
        if self.action is None or self.kind != "approval":
            return None
        return ExternalAction(
            name=self.action.name,
            arguments=self.action.arguments,
            beneficiary_user=self.beneficiary,
        )

    def first_step(self) -> dict[str, Any]:
        """The human tool call the request becomes, as stored arguments (intent included)."""
        action = self.external_action()
        if action is not None:
            # Unset fields stay out, so the edit form offers only what the caller gave.
            dumped = action.model_dump(mode="json", exclude_none=True)
            return {"intent": APPROVAL, "action": dumped, "summary": self.summary}
        return {"intent": INPUT, "question": self.question, "options": self.options}


class Decision(BaseModel):
    user: str
    approved: bool
    reason: str | None
    at: datetime


class RequestView(BaseModel):
    """`GET /api/requests/{id}`, and the body of its decision webhook: every field present."""

    id: str
    kind: Literal["approval", "input"]
    status: RequestStatus
    decisions: list[Decision]
    answer: str | None
    arguments: dict[str, Any] | None
    """As finally approved (an approver's edit included); as asked while waiting."""
    receipt: str | None
    url: str | None
    """A link to the card in Slack, or null until it is posted."""


def spec_of(thread: Thread) -> NewRequest | None:
    """The request as the API took it, or None for a thread of another agent."""
    for event in thread.events[:3]:
        if isinstance(event, ToolResult) and event.intent == SPEC:
            return NewRequest.model_validate(event.output)
    return None


def question_of(thread: Thread) -> ToolCall | None:
    """The one human request the thread asks."""
    return next(
        (e for e in thread.events if isinstance(e, ToolCall) and e.intent in (APPROVAL, INPUT)),
        None,
    )


def status_of(thread: Thread) -> RequestStatus:
    call = question_of(thread)
    outcome = thread.outcome(call) if call is not None else None
    if outcome is not None:
        return outcome.kind
    return "cancelled" if thread.status is Status.STOPPED else "waiting"


def view(
    thread: Thread, *, url: str | None = None, receipt: str | None = None
) -> RequestView | None:
    """The request `thread` runs, as the API shows it; None for a thread of another agent.
    `url` links to its card, `receipt` is the signed receipt of its approval."""
    spec = spec_of(thread)
    if spec is None:
        return None
    call = question_of(thread)
    status = status_of(thread)
    decisions: list[Decision] = []
    answer = arguments = None
    if call is not None:
        for event in thread.about(call.call_id):
            if isinstance(event, ApprovalDecision):
                decisions.append(Decision.model_validate(event, from_attributes=True))
            elif isinstance(event, HumanResponse) and answer is None:
                answer = event.text
        if call.intent == APPROVAL:
            chosen = thread.approved_action(call) if status == "approved" else call.action
            arguments = dict(chosen.get("arguments", {}))
    elif spec.action is not None:
        arguments = spec.action.arguments
    return RequestView(
        id=thread.id,
        kind=spec.kind,
        status=status,
        decisions=decisions,
        answer=answer,
        arguments=arguments,
        receipt=receipt if status == "approved" else None,
        url=url,
    )


def decide(thread: Thread, policy: Policy, now: datetime) -> Event:
    """Ask the one question the request is, then say in the thread how it ended."""
    spec = spec_of(thread)
    if spec is None:
        return _final("This thread holds no API request; nothing to do.", thread)
    call = question_of(thread)
    if call is None:
        return _ask(spec, thread, policy, now)
    return _final(_ending(thread, call), thread)


def _ask(spec: NewRequest, thread: Thread, policy: Policy, now: datetime) -> ToolCall:
    arguments = spec.first_step()
    intent = str(arguments.pop("intent"))
    try:
        terms = terms_for(spec, policy, now)
    except InvalidField:
        # The policy changed since the request was taken: its own terms no longer narrow
        # policy's, so policy's apply unnarrowed (never looser than policy).
        terms = policy.terms(intent, action=spec.external_action(), now=now)
    return ToolCall(
        call_id=f"c{len(thread.events)}",
        intent=intent,
        arguments=arguments,
        source="runtime",
        terms=terms,
    )


def terms_for(spec: NewRequest, policy: Policy, now: datetime) -> Terms:
    """The request's terms: policy's, narrowed by its own approvers, quorum and timeout. A
    request may name fewer approvers than policy (only among those policy names, when it names
    any) and ask for more approvals, never fewer: InvalidField says which field overreaches."""
    intent = APPROVAL if spec.kind == "approval" else INPUT
    terms = policy.terms(intent, action=spec.external_action(), now=now)
    update: dict[str, Any] = {}
    if spec.approvers:
        outside = [a for a in spec.approvers if terms.deciders and a not in terms.deciders]
        if outside:
            named = ", ".join(terms.deciders)
            raise InvalidField(
                "approvers", f"{', '.join(outside)} may not decide it: policy names {named}"
            )
        update["deciders"] = tuple(spec.approvers)
    answerers = update.get("deciders", terms.deciders)
    if spec.kind == "input" and not answerers and not re.fullmatch(SLACK_USER, spec.requested_by):
        # A question is answered by its requester or its deciders: here, by nobody.
        raise InvalidField("approvers", "name who may answer, or a Slack user ID in `requested_by`")
    if spec.quorum is not None:
        if spec.quorum < terms.quorum:
            raise InvalidField("quorum", f"policy needs at least {terms.quorum} approvals")
        update["quorum"] = spec.quorum
    if spec.timeout_seconds is not None:
        update["deadline"] = now + timedelta(seconds=spec.timeout_seconds)
        update["remind_at"] = now + timedelta(seconds=spec.timeout_seconds * REMIND_AT)
    return terms.model_copy(update=update)


def _ending(thread: Thread, call: ToolCall) -> str:
    # Who decided is on the card (code-rendered, with a mention); this line only closes the run.
    outcome = thread.outcome(call)
    match outcome.kind if outcome else None:
        case "approved":
            return "Approved. The caller that asked may now run it."
        case "rejected":
            return "Rejected. Nothing runs."
        case "answered":
            return "Answered. The caller that asked gets the answer."
        case "expired":
            return "Nobody decided in time: the request expired, and nothing runs."
        case _:
            return "The request ended without a decision."


def _final(message: str, thread: Thread) -> ToolCall:
    return ToolCall(
        call_id=f"c{len(thread.events)}",
        intent=FINAL,
        arguments={"message": message},
        source="runtime",
    )


AGENT = Agent(
    name=NAME,
    prompt_path=Path(__file__).with_name("requests.md"),
    tools=(ExternalAction,),
    families=(EXTERNAL_TOOLS,),
    max_steps=4,
    description="a person's approval or answer asked for through the requests API",
    decide=decide,
)
