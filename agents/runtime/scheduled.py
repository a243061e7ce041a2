"""Tool calls planned for later (a grant's revocation when it expires). When the job comes due,
the call runs with a stable idempotency key and its result is appended to the thread, which the
agent then reports on. It does not disturb a request the thread may be waiting on. A failed run
is recorded as an error and retried with backoff, a few times."""

from __future__ import annotations

import logging
from datetime import timedelta

from agents.runtime.agent import Agent
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import Error, Event, ToolResult, call_hash
from agents.runtime.jobs import Scheduled
from agents.runtime.loop import StepDeps, tool_context
from agents.runtime.thread import Thread

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)


def scheduled_call_id(job: Scheduled) -> str:
    return "s-" + call_hash(job.call)[:12]


async def run_scheduled(
    thread: Thread, job: Scheduled, *, agent: Agent, deps: StepDeps, deadlines: Deadlines
) -> Event | None:
    """The event a due scheduled call adds to the thread (None: it already ran)."""
    call_id = scheduled_call_id(job)
    if any(isinstance(e, ToolResult) and e.call_id == call_id for e in thread.events):
        return None
    intent = str(job.call.get("intent"))
    try:
        output = await agent.parse_action(job.call).run(tool_context(thread, call_id, deps))
    except Exception as exc:
        log.warning("scheduled %s in thread %s failed", intent, thread.id, exc_info=True)
        retry = job.attempt + 1 < MAX_ATTEMPTS
        if retry:
            later = deps.clock() + BACKOFF * 2**job.attempt
            await deadlines.schedule_job(
                job.model_copy(update={"attempt": job.attempt + 1}), at=later
            )
        then = "; retrying later" if retry else "; a person must do it"
        return Error(message=f"scheduled {intent} failed: {type(exc).__name__}: {exc}"[:250] + then)
    return ToolResult(call_id=call_id, intent=intent, output=output)
