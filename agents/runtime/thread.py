"""The thread: an agent run as an append-only list of events. Its status, the human request it
waits on and how each request ended are all derived from the events (factor 5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.runtime.events import (
    APPROVAL,
    ESCALATION,
    FINAL,
    HUMAN_INTENTS,
    INPUT,
    ApprovalDecision,
    BreakGlassReviewed,
    Error,
    EscalationTaken,
    Event,
    HumanResponse,
    Paused,
    ReminderSent,
    RequestExpired,
    Resumed,
    Stopped,
    ToolCall,
    UserMessage,
    utcnow,
)


class Status(StrEnum):
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    WAITING_INPUT = "waiting_input"
    WAITING_ESCALATION = "waiting_escalation"
    PAUSED = "paused"
    DONE = "done"
    STOPPED = "stopped"


_WAITING = {
    APPROVAL: Status.WAITING_APPROVAL,
    INPUT: Status.WAITING_INPUT,
    ESCALATION: Status.WAITING_ESCALATION,
}


_CONTROL = (Paused, Resumed, Stopped)


def is_note(event: Event) -> bool:
    """Events about the run that do not move it: pausing and resuming, a message Slack
    refused, a break-glass review and its reminders (they may come after the run is done).
    Where the run is and its error streak look past them."""
    return (
        isinstance(event, Paused | Resumed | BreakGlassReviewed)
        or (isinstance(event, Error) and event.scope == "delivery")
        or (isinstance(event, ReminderSent) and event.about == "review")
    )


@dataclass(frozen=True)
class Outcome:
    """How a human request ended; `by` is who settled it (None when it expired)."""

    kind: Literal["approved", "rejected", "answered", "expired", "cancelled"]
    by: str | None
    at: datetime
    reason: str | None = None
    via: str | None = None
    """Who relayed the decision for `by` (`API token ci`), when not Slack itself."""
    break_glass: bool = False
    """`by` is the requester, who approved their own call with `reason` (break-glass)."""


class SlackOrigin(BaseModel):
    """Where in Slack the thread lives and reports to."""

    model_config = ConfigDict(frozen=True)
    channel: str
    thread_ts: str


class Thread(BaseModel):
    """An agent run. `version` is bumped by every save (compare-and-set).

    A thread holds one or more requests: each mention of the bot starts one (a mention in a
    finished thread continues it with the history in context). `requester` is who launched the
    thread; who asked for a given request is derived from its events (`requester_of`)."""

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
        control = next((e for e in reversed(self.events) if isinstance(e, _CONTROL)), None)
        if isinstance(control, Stopped):
            return Status.STOPPED
        if isinstance(control, Paused):
            return Status.PAUSED
        last = self.last_step
        if isinstance(last, ToolCall) and last.intent == FINAL:
            return Status.DONE
        request = self.open_request()
        return _WAITING[request.intent] if request else Status.RUNNING

    @property
    def last_step(self) -> Event | None:
        """The last event that says where the run is (notes do not; see `is_note`)."""
        return next((e for e in reversed(self.events) if not is_note(e)), None)

    def call(self, call_id: str) -> ToolCall | None:
        return next(
            (e for e in self.events if isinstance(e, ToolCall) and e.call_id == call_id), None
        )

    def open_request(self) -> ToolCall | None:
        """The human request the thread waits on. While one is open no step is taken, so it
        is always the last call."""
        last = next((e for e in reversed(self.events) if isinstance(e, ToolCall)), None)
        if last is None or last.intent not in HUMAN_INTENTS or self.outcome(last) is not None:
            return None
        return last

    def about(self, call_id: str) -> list[Event]:
        """The events people and deadlines added to request `call_id`, in order."""
        return [
            e
            for e in self.events
            if getattr(e, "call_id", None) == call_id and not isinstance(e, ToolCall)
        ]

    def approvals(self, call_id: str) -> list[ApprovalDecision]:
        """Approvals so far, one per person (a second click by the same person is not counted)."""
        seen: dict[str, ApprovalDecision] = {}
        for event in self.about(call_id):
            if isinstance(event, ApprovalDecision) and event.approved:
                seen.setdefault(event.user, event)
        return list(seen.values())

    def outcome(self, request: ToolCall) -> Outcome | None:
        quorum = request.terms.quorum if request.terms else 1
        approvers: set[str] = set()
        later = self.events[self._index_of(request) + 1 :]
        for event in (
            e for e in later if getattr(e, "call_id", request.call_id) == request.call_id
        ):
            match event:
                case Stopped(by=by, at=at, reason=reason):
                    return Outcome("cancelled", by, at, reason)
                case RequestExpired(at=at):
                    return Outcome("expired", None, at)
                case ApprovalDecision(approved=False, user=user, at=at, reason=reason, via=via):
                    return Outcome("rejected", user, at, reason, via)
                case ApprovalDecision(break_glass=True, user=user, at=at, reason=reason):
                    # Break-glass settles the request at once, whatever the quorum.
                    return Outcome("approved", user, at, reason, break_glass=True)
                case ApprovalDecision(approved=True, user=user, at=at, via=via):
                    approvers.add(user)
                    if len(approvers) >= quorum:
                        return Outcome("approved", user, at, via=via)
                case HumanResponse(user=user, at=at, text=text, via=via):
                    return Outcome("answered", user, at, text, via)
                case _:
                    pass
        return None

    def _index_of(self, event: Event) -> int:
        """Where `event` is: found by identity from the end (a request asked about is nearly
        always among the last events) before comparing field by field from the start."""
        for i in range(len(self.events) - 1, -1, -1):
            if self.events[i] is event:
                return i
        return self.events.index(event)

    def approved_action(self, request: ToolCall) -> dict[str, Any]:
        """The call to run for an approved request: as asked, or as an approver edited it."""
        edited = [a.edited_action for a in self.approvals(request.call_id) if a.edited_action]
        return edited[-1] if edited else request.action

    def break_glass(self, call_id: str) -> ApprovalDecision | None:
        """The break-glass approval of request `call_id`, if its requester broke glass."""
        return next(
            (
                e
                for e in self.about(call_id)
                if isinstance(e, ApprovalDecision) and e.approved and e.break_glass
            ),
            None,
        )

    def reviewed_by(self, call_id: str) -> str | None:
        """Who acknowledged the break-glass approval of request `call_id`, if anyone has."""
        reviews = [e for e in self.about(call_id) if isinstance(e, BreakGlassReviewed)]
        return reviews[0].user if reviews else None

    def unreviewed(self) -> list[ApprovalDecision]:
        """Break-glass approvals nobody has acknowledged yet."""
        return [
            e
            for e in self.events
            if isinstance(e, ApprovalDecision)
            and e.break_glass
            and self.reviewed_by(e.call_id) is None
        ]

    def taken_by(self, call_id: str) -> str | None:
        """Who took escalation `call_id`, if anyone has."""
        taken = [e for e in self.about(call_id) if isinstance(e, EscalationTaken)]
        return taken[0].user if taken else None

    def has_message(self, message_ts: str) -> bool:
        """Whether the Slack message `message_ts` was already taken in (a duplicate delivery)."""
        return any(
            isinstance(e, UserMessage | HumanResponse) and e.message_ts == message_ts
            for e in self.events
        )

    def request_start(self, index: int | None = None) -> int:
        """Index of the user message that started the request holding event `index` (the
        latest request when None): each mention starts one. 0 when no message precedes it."""
        end = len(self.events) if index is None else index + 1
        # From the end back: a step asks about the latest request, whatever the thread's length.
        return next(
            (i for i in range(end - 1, -1, -1) if isinstance(self.events[i], UserMessage)), 0
        )

    def request_events(self) -> list[Event]:
        """The events of the latest request, from the message that started it."""
        return self.events[self.request_start() :]

    def _requester_at(self, start: int) -> str:
        started = self.events[start] if start < len(self.events) else None
        return started.user if isinstance(started, UserMessage) else self.requester

    @property
    def current_requester(self) -> str:
        """Who asked for the latest request (the thread's launcher when no message says)."""
        return self._requester_at(self.request_start())

    def requester_of(self, call_id: str) -> str:
        """Who asked for the request that call `call_id` belongs to: the person policy keeps
        from approving it, the card names, and who may answer its questions. An unknown call
        belongs to the latest request."""
        call = self.call(call_id)
        index = self._index_of(call) if call is not None else None
        return self._requester_at(self.request_start(index))

    def relayed_by(self, call_id: str) -> str | None:
        """Who relayed the message that started call `call_id`'s request for its requester
        (`API token ci`), or None when the requester asked in Slack themselves."""
        call = self.call(call_id)
        index = self._index_of(call) if call is not None else None
        started = self.events[self.request_start(index)] if self.events else None
        return started.via if isinstance(started, UserMessage) else None

    def model_steps(self) -> int:
        """The model's steps in the latest request: each request has its own step budget."""
        return sum(
            1 for e in self.request_events() if isinstance(e, ToolCall) and e.source == "model"
        )

    def consecutive_errors(self) -> int:
        """Errors since the last step that went well; the calls that failed don't break a run.
        Only the latest request counts: a new request starts with a clean streak."""
        count = 0
        for event in reversed(self.request_events()):
            if isinstance(event, Error) and event.scope != "step":
                continue
            if isinstance(event, Error):
                count += 1
            elif not (isinstance(event, ToolCall) and event.intent not in HUMAN_INTENTS | {FINAL}):
                break
        return count
