"""The human-contact requests API (`/api/requests`): any agent, CI job or script asks a person in
Slack to approve an action or answer a question, and reads, waits for or is called back with the
decision. Each request is a thread of the code-only `requests` agent (agents/requests.py), so the
card, policy, quorum, reminders, expiry, audit and App Home are the agents' own. These operations
only post the asking message, create the thread and enqueue jobs; workers do the rest."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from agents.requests import (
    NAME,
    SPEC,
    InvalidField,
    NewRequest,
    RequestStatus,
    RequestView,
    question_of,
    terms_for,
    view,
)
from agents.runtime import keys
from agents.runtime.connect import as_text
from agents.runtime.events import ToolResult, UserMessage, utcnow
from agents.runtime.jobs import Advance, Control, JobQueue
from agents.runtime.outbox import DeliveryLedger
from agents.runtime.policy import Policy
from agents.runtime.receipts import ReceiptSigner
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread
from bot.operations import Conflict, NotFound, SlackError
from bot.slack import messages

MAX_WAIT = 60.0
"""Seconds a `?wait=N` long-poll may hold the request open at most."""
POLL_FIRST, POLL_MAX = 0.1, 1.0
"""A long-poll re-reads the thread (one pooled HGET-sized read, never a blocking command) this
often, backing off from the first interval to the last."""
CLAIM_SECONDS = 15.0
"""How long a request being made holds its idempotency key (a Slack post and two writes)."""
MAKING = "making"
STATUSES: tuple[RequestStatus, ...] = (
    "waiting",
    "approved",
    "rejected",
    "answered",
    "expired",
    "cancelled",
)


class RequestOps:
    """Create, read, wait for, list and cancel requests. `policy` sets their terms (a request
    may narrow them, never loosen them); `receipts` signs approved ones' receipts (None: no
    receipts). `callback_hosts` (HITL_CALLBACK_HOSTS), when not empty, is every host a
    `callback_url` may name; `signed` says whether HITL_CALLBACK_SECRET is set (a webhook is
    never sent unsigned)."""

    def __init__(
        self,
        *,
        store: ThreadStore,
        queue: JobQueue,
        client: AsyncWebClient,
        redis: Redis,
        policy: Policy,
        receipts: ReceiptSigner | None = None,
        callback_hosts: frozenset[str] = frozenset(),
        signed: bool = False,
    ) -> None:
        self._store = store
        self._queue = queue
        self._redis = redis
        self._policy = policy
        self._views = RequestViews(client, DeliveryLedger(redis), policy, receipts)
        self._client = client
        self._hosts = callback_hosts
        self._signed = signed

    async def create(self, request: NewRequest, *, via: str) -> tuple[RequestView, bool]:
        """The request, and whether it is new (False: its idempotency key named an older one).
        `via` names the token that asked; it cannot settle the request."""
        self._check_callback(request.callback_url)
        terms_for(request, self._policy, utcnow())  # InvalidField: a 422 before anything posts
        key = request.idempotency_key
        if key is not None and (known := await self._claim(key)) is not None:
            return await self.get(known), False
        try:
            origin = await self._post(request, via)
        except Exception:
            if key is not None:
                await self._redis.delete(keys.api_request(key))  # a retry may post it
            raise
        thread_id = thread_id_for(origin)
        asked = UserMessage(
            user=request.requested_by,
            text=request.summary or str(request.question),
            message_ts=origin.thread_ts,
            via=via,
        )
        spec = ToolResult(call_id="request", intent=SPEC, output=request.model_dump(mode="json"))
        thread = Thread(
            id=thread_id,
            agent=NAME,
            requester=request.requested_by,
            origin=origin,
            events=[asked, spec],
        )
        await self._store.create(thread)
        if key is not None:
            await self._redis.set(keys.api_request(key), thread_id, ex=keys.API_REQUEST_TTL)
        await self._queue.enqueue(Advance(thread_id=thread_id, reason="api request"))
        shown = view(thread)
        assert shown is not None
        return shown, True

    async def get(self, request_id: str, *, wait: float = 0.0) -> RequestView:
        """The request; with `wait`, once it changes or `wait` seconds (at most MAX_WAIT) pass."""
        thread = await self._thread(request_id)
        first = view(thread)
        deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT)
        pause = POLL_FIRST
        while first is not None and time.monotonic() < deadline:
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, POLL_MAX)
            latest = await self._store.load(request_id)
            if latest is None or latest.version == thread.version:
                continue
            thread = latest
            if _changed(first, view(thread)):
                break
        return await self._shown(thread)

    async def list(self, *, status: str | None = None) -> list[RequestView]:
        """Every request kept, newest first; only those in `status` when given."""
        threads = [await self._store.load(i) for i in await self._store.thread_ids()]
        asked = [t for t in threads if t is not None and t.agent == NAME]
        asked.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        found = [await self._shown(t) for t in asked]
        return [r for r in found if status in (None, r.status)]

    async def cancel(self, request_id: str, *, via: str) -> RequestView:
        """Stop the request (as `hitl threads stop` does); a settled one is a Conflict."""
        thread = await self._thread(request_id)
        shown = await self._shown(thread)
        if shown.status != "waiting":
            raise Conflict(f"request {request_id} is already {shown.status}")
        await self._queue.enqueue(
            Control(thread_id=request_id, action="stop", by=via, reason="cancelled by its caller")
        )
        return shown

    async def _claim(self, idempotency_key: str) -> str | None:
        """None when this call now makes the request `idempotency_key` names; else the id of
        the request it made before. A caller that finds another still making it waits for it
        (CLAIM_SECONDS at most), so one key never posts two messages."""
        name = keys.api_request(idempotency_key)
        deadline = time.monotonic() + CLAIM_SECONDS
        while True:
            # The claim lapses by itself if its maker dies before naming the request.
            if await self._redis.set(name, MAKING, nx=True, ex=round(CLAIM_SECONDS)):
                return None
            found = await self._redis.get(name)
            if found is not None and as_text(found) != MAKING:
                return as_text(found)
            if time.monotonic() >= deadline:
                raise Conflict("a request with this idempotency_key is still being made")
            await asyncio.sleep(POLL_FIRST)

    def _check_callback(self, url: str | None) -> None:
        if url is None:
            return
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidField("callback_url", "must be an absolute http or https URL")
        if self._hosts and parts.hostname not in self._hosts:
            raise InvalidField("callback_url", "its host is not in HITL_CALLBACK_HOSTS")
        if not self._signed:
            raise InvalidField("callback_url", "the server has no HITL_CALLBACK_SECRET to sign it")

    async def _post(self, request: NewRequest, via: str) -> SlackOrigin:
        text = messages.launched(
            request.requested_by, request.summary or str(request.question), via
        )
        try:
            posted = await self._client.chat_postMessage(channel=request.channel, text=text)
        except SlackApiError as exc:
            raise SlackError(f"Slack refused the message: {exc.response.get('error')}") from exc
        return SlackOrigin(channel=request.channel, thread_ts=str(posted["ts"]))

    async def _shown(self, thread: Thread) -> RequestView:
        shown = await self._views.of(thread)
        if shown is None:
            raise NotFound(f"no request {thread.id!r}")
        return shown

    async def _thread(self, request_id: str) -> Thread:
        thread = await self._store.load(request_id)
        if thread is None or thread.agent != NAME:
            raise NotFound(f"no request {request_id!r}")
        return thread


class RequestViews:
    """Requests as the API and its webhooks show them: with their card's link and, once
    approved, their signed receipt."""

    def __init__(
        self,
        client: AsyncWebClient,
        ledger: DeliveryLedger,
        policy: Policy,
        receipts: ReceiptSigner | None,
    ) -> None:
        self._links = Permalinks(client, ledger)
        self._policy = policy
        self._receipts = receipts

    async def of(self, thread: Thread) -> RequestView | None:
        """The request `thread` runs; None for a thread of another agent."""
        call = question_of(thread)
        receipt = None
        if self._receipts is not None and call is not None:
            receipt = self._receipts.receipt(thread, call.call_id, policy=self._policy)
        return view(thread, url=await self._links.card(thread), receipt=receipt)


class Permalinks:
    """Links to request cards, built as chat.getPermalink builds them from the workspace URL
    (one auth.test per process)."""

    def __init__(self, client: AsyncWebClient, ledger: DeliveryLedger) -> None:
        self._client = client
        self._ledger = ledger
        self._team_url: str | None = None

    async def card(self, thread: Thread) -> str | None:
        """The card's link, or None until it is posted (or while Slack cannot be asked)."""
        call = question_of(thread)
        posted = await self._ledger.request_message(thread.id, call.call_id) if call else None
        if posted is None:
            return None
        if self._team_url is None:
            try:
                self._team_url = str((await self._client.auth_test())["url"])
            except (SlackApiError, SlackClientError, OSError, TimeoutError):
                return None
        channel, ts = posted
        return f"{self._team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def _changed(before: RequestView, after: RequestView | None) -> bool:
    return after is not None and after.model_dump(exclude={"url"}) != before.model_dump(
        exclude={"url"}
    )
