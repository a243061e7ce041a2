"""The agent loop as a stateless reducer (factors 8 and 12): `step(thread) -> thread`.

Each step looks only at the thread and appends what happened: the model's next step, a tool's
result, or a compact error. Any worker can take the next step of any thread. Tools run only from
a call that was saved first, so their idempotency key (thread id + call id) is stable."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from agents.agent import Agent
from agents.context import build_request
from agents.events import (
    ApprovalDecision,
    Error,
    Status,
    Thread,
    ToolCall,
    ToolResult,
    call_hash,
)
from agents.types import Model, ModelError
from tools.human import DoneForNow, RequestApproval, RequestInput
from tools.policy import needs_approval
from tools.types import Deployer, RetryableToolError, ToolContext

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class StepDeps:
    """What a step needs besides the thread: the model and the tools' adapters."""

    model: Model
    deployer: Deployer


async def step(thread: Thread, *, agent: Agent, deps: StepDeps) -> Thread:
    """Take one step. A thread that is waiting or done comes back unchanged."""
    last = thread.events[-1] if thread.events else None
    match last:
        case ApprovalDecision(approved=True):
            return await _run_approved(thread, agent, last, deps)
        case ToolCall(intent=intent) if agent.is_business(intent):
            return await _run(thread, agent, last, last.arguments | {"intent": intent}, deps)
        case _ if thread.status is not Status.RUNNING:
            return thread
        case _ if thread.consecutive_errors() >= agent.max_consecutive_errors:
            return _finish(thread, "I stopped after repeated errors; a person should take a look.")
        case _ if thread.model_steps() >= agent.max_steps:
            return _finish(thread, f"I stopped after {agent.max_steps} steps without finishing.")
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
    source: Literal["model", "policy"] = "model"
    if not isinstance(chosen, RequestApproval | RequestInput | DoneForNow) and needs_approval(
        chosen
    ):
        # The model cannot go around a human: a gated call becomes a request for approval.
        chosen = RequestApproval[Any](action=chosen, summary=chosen.summary())
        source = "policy"
    return thread.append(
        ToolCall(
            call_id=f"c{len(thread.events)}",
            intent=chosen.intent,
            arguments=chosen.model_dump(mode="json", exclude={"intent"}),
            source=source,
            usage=reply.usage,
        )
    )


async def _run_approved(
    thread: Thread, agent: Agent, decision: ApprovalDecision, deps: StepDeps
) -> Thread:
    request = thread.call(decision.call_id)
    if request is None or call_hash(request.action) != decision.action_hash:
        return thread.append(Error(message="the approved call does not match the request; not run"))
    return await _run(thread, agent, request, request.action, deps)


async def _run(
    thread: Thread, agent: Agent, call: ToolCall, action: dict[str, Any], deps: StepDeps
) -> Thread:
    intent = str(action["intent"])
    ctx = ToolContext(
        thread_id=thread.id,
        requester=thread.requester,
        idempotency_key=f"{thread.id}:{call.call_id}",
        deployer=deps.deployer,
    )
    try:
        output = await agent.parse_action(action).run(ctx)
    except RetryableToolError as exc:
        return thread.append(Error(message=_compact(f"{intent} failed: {exc}")))
    except Exception as exc:
        log.exception("tool %s failed in thread %s", intent, thread.id)
        return thread.append(
            Error(message=_compact(f"{intent} failed: {type(exc).__name__}: {exc}"))
        )
    return thread.append(ToolResult(call_id=call.call_id, intent=intent, output=output))


def _finish(thread: Thread, message: str) -> Thread:
    return thread.append(
        ToolCall(
            call_id=f"c{len(thread.events)}",
            intent="done_for_now",
            arguments={"message": message},
            source="runtime",
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
