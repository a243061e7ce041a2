"""The runtime: applies a job to its thread, then steps the thread until it pauses or finishes.
Every change is a compare-and-set save, so duplicate jobs, double clicks and racing workers
settle into exactly one outcome."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import assert_never

from agents.agent import Agent
from agents.events import (
    ApprovalDecision,
    Event,
    HumanResponse,
    Status,
    Thread,
    UserMessage,
    call_hash,
)
from agents.jobs import Decide, Job, Launch, Reply
from agents.loop import StepDeps, step
from agents.store import ConflictError, ThreadStore, thread_id_for
from agents.types import Notifier, Refusal
from tools.policy import may_answer, may_approve, may_reject

log = logging.getLogger(__name__)

SAVE_ATTEMPTS = 5


class Runtime:
    def __init__(
        self,
        *,
        store: ThreadStore,
        agents: Sequence[Agent],
        deps: StepDeps,
        notifier: Notifier,
        approvers: Collection[str],
    ) -> None:
        self._store = store
        self._agents = {agent.name: agent for agent in agents}
        self._default_agent = agents[0].name
        self._deps = deps
        self._notifier = notifier
        self._approvers = frozenset(approvers)

    async def handle(self, job: Job) -> None:
        match job:
            case Launch():
                await self._launch(job)
            case Decide():
                await self._decide(job)
            case Reply():
                await self._reply(job)
            case _:
                assert_never(job)

    async def _launch(self, job: Launch) -> None:
        thread = Thread(
            id=thread_id_for(job.origin),
            agent=self._default_agent,
            requester=job.user,
            origin=job.origin,
            events=[UserMessage(user=job.user, text=job.text, message_ts=job.message_ts)],
        )
        if not await self._store.create(thread):
            log.info("thread %s exists; launch is a duplicate", thread.id)
        await self.advance(thread.id)

    async def _decide(self, job: Decide) -> None:
        for _ in range(SAVE_ATTEMPTS):
            thread = await self._store.load(job.thread_id)
            if thread is None:
                return
            refusal = self._refusal(thread, job)
            if refusal is not None:
                await self._notifier.refuse(thread, job.user, refusal)
                return
            decision = ApprovalDecision(
                call_id=job.call_id,
                approved=job.approved,
                user=job.user,
                action_hash=job.action_hash,
                reason=job.reason,
            )
            if await self._append(thread, decision):
                break
        await self.advance(job.thread_id)

    def _refusal(self, thread: Thread, job: Decide) -> Refusal | None:
        settled = thread.settlement(job.call_id)
        if settled is not None:
            return Refusal("already_settled", settled)
        pending = thread.pending
        if (
            pending is None
            or pending.call_id != job.call_id
            or pending.intent != "request_approval"
            or call_hash(pending.action) != job.action_hash
        ):
            return Refusal("stale")
        allowed = may_approve if job.approved else may_reject
        if not allowed(job.user, requester=thread.requester, approvers=self._approvers):
            return Refusal("not_allowed")
        return None

    async def _reply(self, job: Reply) -> None:
        for _ in range(SAVE_ATTEMPTS):
            thread = await self._store.load(job.thread_id)
            if thread is None or thread.has_message(job.message_ts):
                return
            event = self._reply_event(thread, job)
            if event is None:
                return
            if await self._append(thread, event):
                break
        await self.advance(job.thread_id)

    def _reply_event(self, thread: Thread, job: Reply) -> Event | None:
        pending = thread.pending
        if thread.status is Status.WAITING_INPUT and pending is not None:
            if not may_answer(job.user, requester=thread.requester, approvers=self._approvers):
                return None
            return HumanResponse(
                call_id=pending.call_id, user=job.user, text=job.text, message_ts=job.message_ts
            )
        if thread.status is Status.DONE and job.mentioned:
            # A new request in a finished thread continues it, with the history in context.
            return UserMessage(user=job.user, text=job.text, message_ts=job.message_ts)
        return None

    async def _append(self, thread: Thread, event: Event) -> bool:
        """Save one event a person caused and tell the thread. False if someone saved first."""
        try:
            saved = await self._store.save(thread.append(event))
        except ConflictError:
            return False
        await self._notifier.publish(saved, [event])
        return True

    async def advance(self, thread_id: str) -> None:
        """Step the thread until it waits for a person or is done; publish each step."""
        thread = await self._store.load(thread_id)
        if thread is None:
            return
        agent = self._agents[thread.agent]
        # Each step appends at least one event and the agent's limits end the run; this bound
        # only guards against a bug turning into a busy loop.
        for _ in range(4 * agent.max_steps + 4):
            stepped = await step(thread, agent=agent, deps=self._deps)
            new_events = stepped.events[len(thread.events) :]
            if not new_events:
                return
            try:
                thread = await self._store.save(stepped)
            except ConflictError:
                log.info("thread %s was advanced elsewhere", thread_id)
                return
            await self._notifier.publish(thread, new_events)
        log.error("thread %s did not settle within its step bound", thread_id)
