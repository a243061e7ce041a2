"""The runtime: applies a job to its thread, then steps the thread until it waits for a person
or is done. Every change is a compare-and-set save of the thread, so the first of any number of
concurrent clicks, retries or workers wins and the others see what happened."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import assert_never

from pydantic import ValidationError

from agents.runtime.agent import Agent
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import (
    APPROVAL,
    ESCALATION,
    INPUT,
    ApprovalDecision,
    BreakGlassReviewed,
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
    call_hash,
)
from agents.runtime.jobs import (
    Acknowledge,
    Advance,
    Control,
    Deadline,
    Decide,
    Job,
    Launch,
    Reply,
    Respond,
    Scheduled,
    Take,
)
from agents.runtime.loop import StepDeps, step
from agents.runtime.metrics import Metrics
from agents.runtime.outbox import Outbox
from agents.runtime.policy import gains_from, may_answer, may_approve, may_reject, may_take
from agents.runtime.routing import Router
from agents.runtime.scheduled import run_scheduled
from agents.runtime.store import ConflictError, ThreadStore, thread_id_for
from agents.runtime.thread import Status, Thread
from agents.runtime.types import Directory, Refusal, Tell
from agents.runtime.validation import first_problem
from tools.types import fixed_fields

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
"""Compare-and-set attempts for one person's input; each retry sees newer state."""

Verdict = Event | Refusal | None
"""What a person's input does to a thread: one event, a refusal to tell them, or nothing."""


class Runtime:
    def __init__(
        self,
        *,
        store: ThreadStore,
        agents: Sequence[Agent],
        deps: StepDeps,
        outbox: Outbox,
        directory: Directory,
        deadlines: Deadlines,
        metrics: Metrics,
        router: Router | None = None,
    ) -> None:
        self._store = store
        self._router = router  # None: every launch goes to the first agent
        self._agents = {agent.name: agent for agent in agents}
        self._default_agent = agents[0].name
        # Policy resolves who has authority over a destructive call through the same directory
        # that says who may decide a request.
        self._deps = deps if deps.directory is not None else replace(deps, directory=directory)
        self._outbox = outbox
        self._directory = directory
        self._deadlines = deadlines
        self._metrics = metrics

    async def handle(self, job: Job, *, key: str | None = None) -> None:
        """Apply `job` and carry its thread on. `key` identifies the job across deliveries (the
        entry id it was first added with): input it already applied is recognised, and the
        thread is carried on instead of the person being told "already settled"."""
        match job:
            case Launch():
                await self._launch(job)
            case Decide() | Acknowledge():
                await self._apply(job, job.user, lambda t: self._approval_input(t, job), key)
            case Respond():
                await self._apply(job, job.user, lambda t: self._answer(t, job), key)
            case Take():
                await self._apply(job, job.user, lambda t: self._take(t, job), key)
            case Reply():
                await self._apply(job, job.user, lambda t: self._reply(t, job), key)
            case Deadline():
                await self._apply(job, None, lambda t: self._deadline(t, job), key)
            case Control():
                await self._apply(job, None, lambda t: self._control(t, job), key)
            case Scheduled():
                await self._apply(job, None, lambda t: self._scheduled(t, job), key)
            case Advance():
                await self._repair(job.thread_id)
            case _:
                assert_never(job)

    async def _launch(self, job: Launch) -> None:
        thread_id = thread_id_for(job.origin)
        if await self._store.exists(thread_id):
            # A redelivered launch: carry on the thread, without asking the router (a model
            # call, with an LLM configured) again.
            log.info("thread %s exists; launch is a duplicate", thread_id)
            await self.advance(thread_id)
            return
        message = UserMessage(user=job.user, text=job.text, message_ts=job.message_ts, via=job.via)
        # Routing (agents/runtime/routing.py) picks one agent, or answers with help by itself.
        routed = await self._router.route(message) if self._router else None
        thread = Thread(
            id=thread_id,
            agent=routed.agent if routed else self._default_agent,
            requester=job.user,
            origin=job.origin,
            events=[message, *(routed.events if routed else [])],
        )
        if not await self._store.create(thread):
            log.info("thread %s was launched by another worker first", thread.id)
            await self.advance(thread.id)
            return
        await self._carry_on(thread)  # as just created: no need to read it back

    async def _apply(
        self,
        job: Decide | Acknowledge | Respond | Take | Reply | Deadline | Control | Scheduled,
        user: str | None,
        verdict: Callable[[Thread], Awaitable[Verdict]],
        key: str | None,
    ) -> None:
        """Save what a person's input (or a deadline) does to the thread, then advance it.
        Input that was already applied (a redelivered job) changes nothing and still advances
        the thread: progress never depends on a job being new."""
        thread_id = job.thread_id
        for _ in range(MAX_ATTEMPTS):
            thread = await self._store.load(thread_id)
            if thread is None:
                return
            paused = thread.status is Status.PAUSED and isinstance(job, Decide | Respond | Take)
            if key is not None and any(getattr(e, "job", None) == key for e in thread.events):
                result: Verdict = None  # this very job was applied already: a redelivery
            else:
                result = Refusal("paused") if paused else await verdict(thread)
            if isinstance(result, Refusal):
                if user is not None:  # tell them why; the thread itself does not change
                    tell = _tell(result, user, result.call_id or getattr(job, "call_id", None))
                    await self._outbox.tell(thread, tell, key=key)
                result = None
            elif isinstance(result, ApprovalDecision | HumanResponse | BreakGlassReviewed):
                result = result.model_copy(update={"job": key})
            if result is None:
                await self._carry_on(thread)
                return
            try:
                saved = await self._store.save(thread.append(result))
            except ConflictError:
                continue
            await self._cancel_deadlines(thread, saved)
            await self._plan_review(saved, result)
            if user is not None:
                self._metrics.resumed(result)  # a person's answer or decision
            await self._carry_on(saved)  # as just saved: no need to read it back
            return
        raise RuntimeError(f"thread {thread_id}: gave up after {MAX_ATTEMPTS} conflicting saves")

    def _open(self, thread: Thread, call_id: str, intent: str) -> ToolCall | Refusal:
        """The request a person acts on, if it is still open."""
        request = thread.call(call_id)
        if request is None or request.intent != intent:
            return Refusal("stale")
        if thread.outcome(request) is not None:
            return Refusal("settled")
        return request

    async def _allowed(self, request: ToolCall) -> frozenset[str] | None:
        deciders = request.terms.deciders if request.terms else ()
        return await self._directory.members(deciders) if deciders else None

    async def _approval_input(self, thread: Thread, job: Decide | Acknowledge) -> Verdict:
        """A decision on an approval request, or the acknowledgement of its break-glass."""
        if isinstance(job, Acknowledge):
            return await self._acknowledge(thread, job)
        return await self._decision(thread, job)

    async def _decision(self, thread: Thread, job: Decide) -> Verdict:
        request = self._open(thread, job.call_id, APPROVAL)
        if isinstance(request, Refusal):
            return request
        if job.action_hash != call_hash(request.action):
            return Refusal("stale")
        refusal = await self._may_decide(thread, request, job)
        if refusal is not None:
            return refusal
        if job.approved and any(a.user == job.user for a in thread.approvals(job.call_id)):
            return Refusal("already_approved")
        if job.edited_action is not None:
            problem = self._edit_problem(thread, request, job.edited_action)
            if problem:
                return Refusal("invalid_edit", detail=problem)
        return ApprovalDecision(
            call_id=job.call_id,
            approved=job.approved,
            user=job.user,
            action_hash=job.action_hash,
            reason=job.reason,
            edited_action=job.edited_action,
            via=job.via,
            break_glass=job.break_glass,
        )

    async def _may_decide(self, thread: Thread, request: ToolCall, job: Decide) -> Refusal | None:
        """Why `job.user` may not settle the request this way (None if they may). Nobody
        approves what they would gain from: the call as asked, or as they edited it."""
        if job.break_glass:
            return _may_break_glass(thread, request, job)
        allowed = await self._allowed(request)
        # The requester of this request, not of the thread: a later mention may be someone else's.
        requester = thread.requester_of(request.call_id)
        if not job.approved:
            ok = may_reject(job.user, requester=requester, allowed=allowed)
            return None if ok else Refusal("not_allowed")
        launcher = thread.relayed_by(request.call_id)
        if job.via is not None and job.via == launcher:
            # Whoever it names, the caller that asked for the call may not approve it too.
            return Refusal("launched_via", detail=launcher)
        gainers = self._beneficiaries(thread, request.action, job.edited_action)
        if may_approve(job.user, requester=requester, allowed=allowed, beneficiaries=gainers):
            return None
        if gains_from(job.user, beneficiaries=gainers) and job.user != requester:
            return Refusal("own_benefit")
        return Refusal("not_allowed")

    def _beneficiaries(self, thread: Thread, *calls: dict[str, object] | None) -> set[str]:
        """Who gains from each of `calls` that parses (a broken edit is refused later)."""
        agent = self._agents[thread.agent]
        gainers: set[str] = set()
        for call in calls:
            try:
                beneficiary = agent.parse_action(dict(call)).beneficiary() if call else None
            except ValueError:
                beneficiary = None
            if beneficiary is not None:
                gainers.add(beneficiary)
        return gainers

    def _edit_problem(self, thread: Thread, request: ToolCall, edited: dict[str, object]) -> str:
        """Why an edited call cannot be approved as is ('' if it can)."""
        if request.terms is None or not request.terms.editable:
            return "this request needs several approvals, so it can't be edited"
        if edited.get("intent") != request.action_intent:
            return "an edit can change the arguments, not the tool"
        agent = self._agents[thread.agent]
        model = agent.tool(request.action_intent)
        try:
            action = agent.parse_action(dict(edited))
        except ValueError as exc:
            # A sentence for the person, not pydantic's dump (which names the tool's model).
            if isinstance(exc, ValidationError) and model is not None:
                return first_problem(exc, model)
            return "those values aren't valid for this action"
        asked = agent.parse_action(dict(request.action))
        fixed = fixed_fields(model) if model is not None else frozenset()
        changed = sorted(n for n in fixed if getattr(action, n) != getattr(asked, n))
        if changed:
            return f"an edit can't change {', '.join(changed)}; reject it and ask again"
        policy = self._deps.policy
        breach = policy.over_limit(action)
        if breach is not None:
            return breach
        # A new proposal: under another rule (gated or not, other timeout) or needing other
        # approvers it is not the request its deciders were asked about. Both calls' terms come
        # from policy alone: the request may have narrowed its own (an API request's approvers).
        if policy.rule(action) != policy.rule(asked):
            return "the edited call falls under a different policy rule; reject it and ask again"
        now = self._deps.clock()
        edited_terms = policy.terms(APPROVAL, action=action, now=now)
        asked_terms = policy.terms(APPROVAL, action=asked, now=now)
        if edited_terms.quorum > 1 or edited_terms.deciders != asked_terms.deciders:
            return "the edited call needs different approvers; reject it and ask again"
        return ""

    async def _acknowledge(self, thread: Thread, job: Acknowledge) -> Verdict:
        """Someone other than the requester and the beneficiary acknowledges a break-glass
        approval: a decider (anyone, if the request names none). Once: a second click, by
        anyone, adds nothing."""
        request = thread.call(job.call_id)
        if request is None or thread.break_glass(job.call_id) is None:
            return Refusal("stale")
        reviewer = thread.reviewed_by(job.call_id)
        if reviewer is not None:
            return None if reviewer == job.user else Refusal("settled", detail=REVIEWED)
        requester = thread.requester_of(job.call_id)
        gainers = self._beneficiaries(thread, request.action)
        allowed = await self._allowed(request)
        if not may_approve(job.user, requester=requester, allowed=allowed, beneficiaries=gainers):
            return Refusal("not_allowed", detail=NOT_REVIEWER)
        return BreakGlassReviewed(call_id=job.call_id, user=job.user)

    async def _plan_review(self, thread: Thread, saved: Event) -> None:
        """A break-glass approval waits for its acknowledgement: plan the reminder (its rule's
        timeout later, again after each reminder) until someone acknowledges it."""
        call = thread.call(saved.call_id) if isinstance(saved, ApprovalDecision) else None
        match saved:
            case ApprovalDecision(break_glass=True) if call is not None and call.terms:
                await self._deadlines.schedule_review(thread.id, call, after=saved.at)
            case ReminderSent(about="review", call_id=call_id):
                reminded = thread.call(call_id)
                if reminded is not None and reminded.terms is not None:
                    await self._deadlines.schedule_review(thread.id, reminded, after=saved.at)
            case BreakGlassReviewed(call_id=call_id):
                reviewed = thread.call(call_id)
                if reviewed is not None:
                    await self._deadlines.cancel_review(thread.id, reviewed)
            case _:
                pass

    async def _answer(self, thread: Thread, job: Respond) -> Verdict:
        request = self._open(thread, job.call_id, INPUT)
        if isinstance(request, Refusal):
            return request
        requester = thread.requester_of(request.call_id)
        if not may_answer(job.user, requester=requester, allowed=await self._allowed(request)):
            return Refusal("not_allowed")
        return HumanResponse(call_id=job.call_id, user=job.user, text=job.text, via=job.via)

    async def _take(self, thread: Thread, job: Take) -> Verdict:
        request = self._open(thread, job.call_id, ESCALATION)
        if isinstance(request, Refusal):
            return request
        taker = thread.taken_by(job.call_id)
        if taker is not None:
            return None if taker == job.user else Refusal("settled")
        if not may_take(job.user, allowed=await self._allowed(request)):
            return Refusal("not_allowed")
        return EscalationTaken(call_id=job.call_id, user=job.user)

    async def _reply(self, thread: Thread, job: Reply) -> Verdict:
        """A message in the Slack thread: an answer, a follow-up request, or nothing to us."""
        if thread.has_message(job.message_ts):
            return None
        request = thread.open_request()
        # Text that cannot answer the open request is not silently dropped: its writer is
        # told, privately, what the thread waits for and who can settle it.
        pending = Refusal("pending", call_id=request.call_id) if request is not None else None
        if request is not None and request.intent == INPUT:
            allowed = await self._allowed(request)
            requester = thread.requester_of(request.call_id)
            if not may_answer(job.user, requester=requester, allowed=allowed):
                return pending
        elif request is not None and request.intent == ESCALATION:
            if thread.taken_by(request.call_id) != job.user:
                return pending
        elif request is not None and request.intent == APPROVAL:
            return pending
        elif thread.status is Status.DONE and job.mentioned:
            # A new request in a finished thread continues it, with the history in context.
            return UserMessage(user=job.user, text=job.text, message_ts=job.message_ts)
        else:
            return None
        return HumanResponse(
            call_id=request.call_id, user=job.user, text=job.text, message_ts=job.message_ts
        )

    async def _control(self, thread: Thread, job: Control) -> Verdict:
        """Pause a live thread, resume a paused one, stop any not finished; else nothing."""
        status = thread.status
        if status in (Status.DONE, Status.STOPPED):
            return None
        match job.action:
            case "pause" if status is not Status.PAUSED:
                return Paused(by=job.by, reason=job.reason)
            case "resume" if status is Status.PAUSED:
                return Resumed(by=job.by, reason=job.reason)
            case "stop":
                return Stopped(by=job.by, reason=job.reason)
            case _:
                return None

    async def _scheduled(self, thread: Thread, job: Scheduled) -> Verdict:
        agent = self._agents[thread.agent]
        return await run_scheduled(
            thread, job, agent=agent, deps=self._deps, deadlines=self._deadlines
        )

    async def _deadline(self, thread: Thread, job: Deadline) -> Verdict:
        if job.event == "review":
            unreviewed = thread.break_glass(job.call_id) and not thread.reviewed_by(job.call_id)
            return ReminderSent(call_id=job.call_id, about="review") if unreviewed else None
        request = thread.open_request()
        if request is None or request.call_id != job.call_id:
            return None
        if job.event == "expire":
            return RequestExpired(call_id=job.call_id)
        if any(isinstance(e, ReminderSent) for e in thread.about(job.call_id)):
            return None
        return ReminderSent(call_id=job.call_id)

    async def _repair(self, thread_id: str) -> None:
        """An `Advance` job (a delivery retry, or the reconciler's repair of a thread nobody
        carried on): first append what the audit log misses, since a worker that died between
        a save and its audit append left the events unlogged and a finished thread may never
        be saved again, then carry the thread on."""
        thread = await self._store.load(thread_id)
        if thread is not None:
            await self._store.audit.record(thread)
            await self._carry_on(thread)

    async def advance(self, thread_id: str) -> None:
        """Deliver what the thread must still show, then step it until it waits for a person
        or is done, delivering each step's events after its save."""
        thread = await self._store.load(thread_id)
        if thread is not None:
            await self._carry_on(thread)

    async def _carry_on(self, thread: Thread) -> None:
        """`advance` from `thread` as this worker last read or saved it. A newer version saved
        elsewhere meanwhile only makes the next save conflict, as a newer one saved after a
        load would: the thread is never stepped from a state that was not saved."""
        thread = await self._outbox.flush(thread, hold_cursor=True)
        if thread.status is Status.RUNNING:
            thread = await self._steps(thread)
        await self._store.write_cursor(thread.id)  # no save follows to carry it

    async def _steps(self, thread: Thread) -> Thread:
        agent = self._agents[thread.agent]
        # Each step appends at least one event and the agent's limits end the run; this bound
        # only guards against a bug turning into a busy loop.
        for _ in range(4 * agent.max_steps + 4):
            started = time.perf_counter()
            stepped = await step(thread, agent=agent, deps=self._deps)
            new_events = stepped.events[len(thread.events) :]
            if not new_events:
                return thread
            self._metrics.stepped(agent.name, time.perf_counter() - started, new_events)
            try:
                thread = await self._store.save(stepped)
            except ConflictError:
                log.info("thread %s was advanced elsewhere", thread.id)
                return thread
            await self._schedule(thread.id, new_events)
            thread = await self._outbox.flush(thread, hold_cursor=True)
        log.error("thread %s did not settle within its step bound", thread.id)
        return thread

    async def _cancel_deadlines(self, before: Thread, after: Thread) -> None:
        request = before.open_request()
        if request is not None and after.outcome(request) is not None:
            await self._deadlines.cancel(request, after.id)

    async def _schedule(self, thread_id: str, new_events: Sequence[Event]) -> None:
        for event in new_events:
            if isinstance(event, ToolCall) and event.terms is not None:
                await self._deadlines.schedule(event, thread_id, event.terms)


NOT_BREAK_GLASS = "break_glass:not_allowed"
NOT_REQUESTER = "break_glass:not_requester"
NO_REASON = "break_glass:no_reason"
NOT_IN_SLACK = "break_glass:not_in_slack"
NOT_REVIEWER = "break_glass:not_reviewer"
REVIEWED = "break_glass:reviewed"
"""Refusal details of break-glass; bot/slack/messages.py says each in words."""


def _may_break_glass(thread: Thread, request: ToolCall, job: Decide) -> Refusal | None:
    """Break-glass: only where the request's terms allow it, only by the requester of this
    very request (not a beneficiary who did not ask), only in Slack (a person, not a relay),
    for the call as asked, and only with a reason."""
    if request.terms is None or not request.terms.break_glass or job.edited_action is not None:
        return Refusal("not_allowed", detail=NOT_BREAK_GLASS)
    if job.via is not None:
        return Refusal("not_allowed", detail=NOT_IN_SLACK)
    if job.user != thread.requester_of(request.call_id):
        return Refusal("not_allowed", detail=NOT_REQUESTER)
    if not job.approved or not (job.reason or "").strip():
        return Refusal("not_allowed", detail=NO_REASON)
    return None


def _tell(refusal: Refusal, user: str, call_id: str | None) -> Tell:
    return Tell(user=user, reason=refusal.reason, call_id=call_id, detail=refusal.detail)
