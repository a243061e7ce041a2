"""The agent loop as a stateless reducer (factors 8 and 12): `step(thread) -> thread`.

Each step looks only at the thread and appends what happened: the model's next step, a tool's
result, or a compact error. Any worker can take the next step of any thread. Tools run only from
a call that was saved first, so their idempotency key (thread id + call id) is stable."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from redis.exceptions import RedisError

from agents.runtime.agent import Agent, Step
from agents.runtime.context import build_request
from agents.runtime.events import (
    ESCALATION,
    FINAL,
    HUMAN_INTENTS,
    ApprovalDecision,
    Error,
    Terms,
    ToolCall,
    ToolResult,
    call_hash,
    utcnow,
)
from agents.runtime.policy import Policy
from agents.runtime.receipts import ReceiptSigner
from agents.runtime.thread import Status, Thread
from agents.runtime.types import Directory, Model, ModelError
from tools.human import DoneForNow, Escalate, RequestApproval, RequestInput
from tools.types import AdapterSet, RetryableToolError, Scheduler, Tool, ToolContext

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300
HUMAN_STEPS = (RequestApproval, RequestInput, Escalate, DoneForNow)


@dataclass(frozen=True)
class StepDeps:
    """What a step needs besides the thread: the model, tool policy, the tools' adapters (one
    per tool family), the scheduler that runs a tool call later, and the directory that
    expands user groups when policy asks who has authority over a call (None: IDs as named),
    and the signer of approval receipts."""

    model: Model
    adapters: AdapterSet = field(default_factory=AdapterSet)
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], datetime] = utcnow
    scheduler: Scheduler | None = None
    directory: Directory | None = None
    receipts: ReceiptSigner | None = None
    """Signs a receipt for each approved call, sent to its executor (None: no receipts)."""


async def step(thread: Thread, *, agent: Agent, deps: StepDeps) -> Thread:
    """Take one step. A thread that is waiting, paused or done comes back unchanged."""
    last = thread.last_step
    if thread.status in (Status.PAUSED, Status.STOPPED):
        return thread
    match last:
        case ToolCall(intent=intent) if agent.is_business(intent):
            return await _run(thread, agent, last, last.arguments | {"intent": intent}, deps)
        case _ if thread.status is not Status.RUNNING:
            return thread
        case ApprovalDecision(approved=True):
            return await _run_approved(thread, agent, last, deps)
        case _ if thread.consecutive_errors() >= agent.max_consecutive_errors:
            reason = f"{agent.max_consecutive_errors} errors in a row; a person should take over."
            return _runtime_call(thread, ESCALATION, {"reason": reason, "urgency": "high"}, deps)
        case _ if thread.model_steps() >= agent.max_steps:
            message = f"I stopped after {agent.max_steps} steps without finishing."
            return _runtime_call(thread, FINAL, {"message": message}, deps)
        case _ if (prefetch := _prefetch_due(thread, agent)) is not None:
            # Factor 13: code fetches what the agent always needs; the next step runs it.
            return _runtime_call(thread, prefetch, {}, deps)
        case _ if agent.decide is not None:
            # A code-only agent: its code decides every step, no model is asked.
            return thread.append(agent.decide(thread, deps.policy, deps.clock()))
        case _:
            return await _decide(thread, agent, deps)


async def _decide(thread: Thread, agent: Agent, deps: StepDeps) -> Thread:
    try:
        reply = await deps.model.next_step(build_request(agent, thread))
    except ModelError as exc:
        return thread.append(Error(message=_compact(f"model unavailable: {exc}")))
    try:
        chosen = agent.parse_step(reply.text)
    except ValueError as exc:
        return thread.append(Error(message=_invalid_output(exc, reply.text), usage=reply.usage))
    breach = _over_limit(chosen, deps)
    if breach is not None:
        # Never offered for approval: the model hears why, and may ask again or ask the person.
        return thread.append(Error(message=_compact(breach), usage=reply.usage))
    source: Literal["model", "policy"] = "model"
    if not isinstance(chosen, HUMAN_STEPS) and await _gated(chosen, thread, deps):
        # The model cannot go around a human: a gated call becomes a request for approval.
        chosen = RequestApproval[Any](action=chosen, summary=chosen.summary())
        source = "policy"
    action = chosen.action if isinstance(chosen, RequestApproval) else None
    return thread.append(
        ToolCall(
            call_id=f"c{len(thread.events)}",
            intent=chosen.intent,
            arguments=chosen.model_dump(mode="json", exclude={"intent"}),
            source=source,
            usage=reply.usage,
            terms=_terms(chosen.intent, action, deps),
        )
    )


async def _gated(call: Tool, thread: Thread, deps: StepDeps) -> bool:
    """Whether policy gates `call` for whoever asked for the thread's latest request; who has
    authority over a destructive call is resolved through the directory (groups to members)."""
    allowed = None
    if call.needs_authority() and deps.directory is not None:
        allowed = await deps.directory.members(deps.policy.authority(call))
    return deps.policy.needs_approval(call, requester=thread.current_requester, allowed=allowed)


def _over_limit(chosen: Step, deps: StepDeps) -> str | None:
    """The policy limit the business call in `chosen` breaks (itself, or the action a
    `request_approval` asks for), if any."""
    if isinstance(chosen, RequestApproval):
        return deps.policy.over_limit(chosen.action)
    if isinstance(chosen, HUMAN_STEPS):
        return None
    return deps.policy.over_limit(chosen)


def _terms(intent: str, action: Tool | None, deps: StepDeps) -> Terms | None:
    if intent not in HUMAN_INTENTS:
        return None
    return deps.policy.terms(intent, action=action, now=deps.clock())


async def _run_approved(
    thread: Thread, agent: Agent, decision: ApprovalDecision, deps: StepDeps
) -> Thread:
    request = thread.call(decision.call_id)
    if request is None or call_hash(request.action) != decision.action_hash:
        return thread.append(Error(message="the approved call does not match the request; not run"))
    return await _run(thread, agent, request, thread.approved_action(request), deps)


async def _run(
    thread: Thread, agent: Agent, call: ToolCall, action: dict[str, Any], deps: StepDeps
) -> Thread:
    intent = str(action["intent"])
    ctx = tool_context(thread, call.call_id, deps)
    try:
        output = await agent.parse_action(action).run(ctx)
    except RetryableToolError as exc:
        return thread.append(Error(message=_compact(f"{intent} failed: {exc}")))
    except RedisError:
        raise  # our own storage is down: the job fails and is retried, the model is not told
    except Exception as exc:
        log.exception("tool %s failed in thread %s", intent, thread.id)
        return thread.append(
            Error(message=_compact(f"{intent} failed: {type(exc).__name__}: {exc}"))
        )
    return thread.append(ToolResult(call_id=call.call_id, intent=intent, output=output))


def tool_context(thread: Thread, call_id: str, deps: StepDeps) -> ToolContext:
    """What tool call `call_id` of `thread` runs with; its idempotency key is (thread, call).
    An approved call carries the receipt of its approval (made from the thread, never by the
    model, so it is the same on every retry)."""
    receipt = None
    if deps.receipts is not None:
        receipt = deps.receipts.receipt(thread, call_id, policy=deps.policy)
    return ToolContext(
        thread_id=thread.id,
        requester=thread.requester_of(call_id),
        idempotency_key=f"{thread.id}:{call_id}",
        adapters=deps.adapters,
        scheduler=deps.scheduler,
        now=deps.clock(),
        receipt=receipt,
    )


def _prefetch_due(thread: Thread, agent: Agent) -> str | None:
    """The next tool to pre-fetch for the latest request, if one was not called since."""
    called = {e.intent for e in thread.request_events() if isinstance(e, ToolCall)}
    return next((intent for intent in agent.prefetch if intent not in called), None)


def _runtime_call(thread: Thread, intent: str, arguments: dict[str, Any], deps: StepDeps) -> Thread:
    return thread.append(
        ToolCall(
            call_id=f"c{len(thread.events)}",
            intent=intent,
            arguments=arguments,
            source="runtime",
            terms=_terms(intent, None, deps),
        )
    )


def _invalid_output(exc: ValueError, raw: str) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'call'}: {e['msg']}" for e in exc.errors()[:3]
        )
        return _compact(f"invalid tool call: {problems}")
    return _compact(f"output was not a JSON tool call ({exc}): {raw[:80]!r}")


def _compact(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"
