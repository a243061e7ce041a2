"""Thread operations from outside Slack (factor 6): launch, inspect, pause, resume, stop and
answer a request. The HTTP API and `hitl threads ...` both use these; like the Slack edge they
only enqueue jobs, so any worker applies them and the same rules hold (policy, exactly once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime.events import APPROVAL, INPUT, call_hash
from agents.runtime.jobs import Control, Decide, JobQueue, Launch, Respond
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread
from bot.slack import messages
from tools.types import SLACK_USER

Action = Literal["pause", "resume", "stop"]
STATUS_FILTERS = ("waiting", "running", "done", "stopped", "paused")
"""What `--status` / `?status=` take: a status, `waiting` standing for every waiting_* one."""


def status_matches(status: str, wanted: str | None) -> bool:
    """Whether a thread's `status` passes the filter `wanted` (None: every status)."""
    return wanted is None or status == wanted or status.startswith(f"{wanted}_")


class LaunchRequest(BaseModel):
    """Start an agent on a request and report in a Slack channel (e.g. from a CI webhook)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        min_length=1, max_length=3000, description="The request, as a person would write it."
    )
    channel: str = Field(pattern=r"^[CGD][A-Z0-9]+$", description="Slack channel ID to report in.")
    user: str = Field(
        default="api",
        min_length=1,
        max_length=64,
        description="On whose behalf (a Slack user ID or a name); it cannot approve its request.",
    )


class ControlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field(
        default="api", min_length=1, max_length=64, description="Who asks (shown in Slack)."
    )
    reason: str | None = Field(default=None, max_length=500)


class RespondRequest(BaseModel):
    """Answer the open request from outside Slack: approve or reject an approval, or answer a
    question. The same policy applies as to a click: `user` must be allowed to decide."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(pattern=SLACK_USER, description="Slack user ID of the person deciding.")
    approved: bool | None = None
    reason: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, min_length=1, max_length=3000)

    @model_validator(mode="after")
    def _one_kind(self) -> RespondRequest:
        if (self.approved is None) == (self.text is None):
            raise ValueError("give either `approved` (an approval) or `text` (an answer)")
        if self.approved is False and not (self.reason or "").strip():
            raise ValueError("a rejection needs a `reason`")
        return self


class ThreadSummary(BaseModel):
    id: str
    agent: str
    status: str
    requester: str
    created_at: datetime
    last_activity: datetime
    """When the newest event was recorded (the thread's creation if it has none)."""
    channel: str | None
    thread_ts: str | None

    @classmethod
    def of(cls, thread: Thread) -> ThreadSummary:
        origin = thread.origin
        return cls(
            id=thread.id,
            agent=thread.agent,
            status=thread.status.value,
            requester=thread.requester,
            created_at=thread.created_at,
            last_activity=last_activity(thread),
            channel=origin.channel if origin else None,
            thread_ts=origin.thread_ts if origin else None,
        )


def last_activity(thread: Thread) -> datetime:
    """When anything last happened in `thread`."""
    return max([thread.created_at, *(event.at for event in thread.events)])


class ThreadDetail(ThreadSummary):
    open_request: dict[str, Any] | None
    events: list[dict[str, Any]]

    @classmethod
    def of(cls, thread: Thread) -> ThreadDetail:
        request = thread.open_request()
        return cls(
            **ThreadSummary.of(thread).model_dump(),
            open_request=request.model_dump(mode="json") if request else None,
            events=[e.model_dump(mode="json") for e in thread.events],
        )


class Accepted(BaseModel):
    """The job is queued; workers apply it. Poll the thread for its effect."""

    thread_id: str
    job: str | None = None
    """The queued job's key, when the caller may wait for its outcome (`respond`)."""


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    """The thread is not in a state the operation applies to."""


class SlackError(ValueError):
    pass


async def list_threads(store: ThreadStore, *, status: str | None = None) -> list[ThreadSummary]:
    """Threads whose status passes `status` (see `status_matches`), newest activity first;
    ties (same instant) in id order, so the listing is stable."""
    threads = [await store.load(i) for i in await store.thread_ids()]
    found = [ThreadSummary.of(t) for t in threads if t is not None]
    found = [t for t in found if status_matches(t.status, status)]
    found.sort(key=lambda t: t.id)
    found.sort(key=lambda t: t.last_activity, reverse=True)
    return found


class ThreadOps:
    def __init__(self, *, store: ThreadStore, queue: JobQueue, client: AsyncWebClient) -> None:
        self._store = store
        self._queue = queue
        self._client = client

    async def list(self, *, status: str | None = None) -> list[ThreadSummary]:
        return await list_threads(self._store, status=status)

    async def get(self, thread_id: str) -> ThreadDetail:
        return ThreadDetail.of(await self._thread(thread_id))

    async def launch(self, request: LaunchRequest, *, via: str | None = None) -> Accepted:
        """Post the request as a new message in the channel and start an agent in its thread.
        `via` names the caller that relayed it (`API token ci`): it may not approve it."""
        try:
            posted = await self._client.chat_postMessage(
                channel=request.channel, text=messages.launched(request.user, request.text, via)
            )
        except SlackApiError as exc:
            raise SlackError(f"Slack refused the message: {exc.response.get('error')}") from exc
        origin = SlackOrigin(channel=request.channel, thread_ts=str(posted["ts"]))
        job = Launch(
            user=request.user,
            text=request.text,
            origin=origin,
            message_ts=origin.thread_ts,
            via=via,
        )
        await self._queue.enqueue(job)
        return Accepted(thread_id=thread_id_for(origin))

    async def control(self, thread_id: str, action: Action, request: ControlRequest) -> Accepted:
        await self._thread(thread_id)
        await self._queue.enqueue(
            Control(thread_id=thread_id, action=action, by=request.by, reason=request.reason)
        )
        return Accepted(thread_id=thread_id)

    async def respond(
        self, thread_id: str, request: RespondRequest, *, via: str | None = None
    ) -> Accepted:
        """Answer the open request as `request.user` (policy judges that Slack user); `via`
        says who relayed it (`API token ci`) and is kept with the decision for the audit."""
        thread = await self._thread(thread_id)
        open_request = thread.open_request()
        if open_request is None:
            raise Conflict(f"thread {thread_id} is not waiting for anyone ({thread.status.value})")
        if open_request.intent == APPROVAL and request.approved is not None:
            job: Decide | Respond = Decide(
                thread_id=thread_id,
                call_id=open_request.call_id,
                action_hash=call_hash(open_request.action),
                approved=request.approved,
                user=request.user,
                reason=request.reason,
                via=via,
            )
        elif open_request.intent == INPUT and request.text is not None:
            job = Respond(
                thread_id=thread_id,
                call_id=open_request.call_id,
                user=request.user,
                text=request.text,
                via=via,
            )
        else:
            raise Conflict(
                f"the open request is `{open_request.intent}`: answer an approval with "
                "`approved`, a question with `text`; take escalations in Slack"
            )
        key = await self._queue.add(job)
        return Accepted(thread_id=thread_id, job=key)

    async def _thread(self, thread_id: str) -> Thread:
        thread = await self._store.load(thread_id)
        if thread is None:
            raise NotFound(f"no thread {thread_id!r}")
        return thread
