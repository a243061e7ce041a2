"""Tells Slack what happened in a thread. A human request's message is re-rendered from the
thread after every change to it (votes, decision, answer, expiry), so it always shows the
current state and a repeated publish changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.events import (
    APPROVAL,
    ESCALATION,
    INPUT,
    ApprovalDecision,
    EscalationTaken,
    Event,
    HumanResponse,
    Paused,
    ReminderSent,
    RequestExpired,
    Resumed,
    Stopped,
    ToolCall,
)
from agents.store import ThreadStore
from agents.thread import Thread
from agents.types import Refusal
from bot import blocks, messages

log = logging.getLogger(__name__)

WORKING = "hourglass_flowing_sand"


class SlackNotifier:
    def __init__(
        self, client: AsyncWebClient, store: ThreadStore, *, escalation_channel: str | None
    ) -> None:
        self._client = client
        self._store = store
        self._escalation_channel = escalation_channel
        self._team_url: str | None = None

    async def publish(self, thread: Thread, new_events: Sequence[Event]) -> None:
        if thread.origin is None:
            return
        for event in new_events:
            match event:
                case ToolCall(intent="request_approval" | "request_input" | "escalate"):
                    await self._ask(thread, event)
                case ToolCall(intent="done_for_now", arguments=arguments):
                    await self._post(thread, arguments["message"])
                case ApprovalDecision() | HumanResponse() | RequestExpired():
                    await self._refresh(thread, event.call_id)
                case EscalationTaken(call_id=call_id, user=user):
                    await self._refresh(thread, call_id)
                    await self._post(thread, messages.on_it(user))
                case ReminderSent(call_id=call_id):
                    await self._remind(thread, call_id)
                case Paused(by=by) | Resumed(by=by):
                    await self._post(thread, messages.control(event.type, by, None))
                case Stopped(by=by, reason=reason):
                    await self._cancel_open(thread, event)
                    await self._post(thread, messages.control("stopped", by, reason))
                case _:
                    pass

    async def working(self, thread: Thread, busy: bool) -> None:
        """An ⏳ on the thread's first message while a worker takes steps in it."""
        if thread.origin is None:
            return
        call = self._client.reactions_add if busy else self._client.reactions_remove
        try:
            origin = thread.origin
            await call(channel=origin.channel, timestamp=origin.thread_ts, name=WORKING)
        except SlackApiError as exc:
            # Cosmetic: a reaction already there (or gone) must not stop the run.
            log.info("working indication: %s", exc.response.get("error"))

    async def refuse(self, thread: Thread, user: str, refusal: Refusal) -> None:
        if thread.origin is None:
            return
        match refusal.reason:
            case "settled":
                text = messages.refusal_settled(refusal.outcome)
            case "not_allowed":
                text = messages.NOT_ALLOWED
            case "already_approved":
                text = messages.ALREADY_APPROVED
            case "invalid_edit":
                text = messages.invalid_edit(refusal.detail)
            case "stale":
                text = messages.STALE
            case "paused":
                text = messages.PAUSED
        channel, thread_ts = thread.origin.channel, thread.origin.thread_ts
        where = (
            await self._store.request_message(thread.id, refusal.call_id)
            if refusal.call_id
            else None
        )
        if where is not None and where[0] != channel:
            channel, thread_ts = where[0], where[1]
        await self._client.chat_postEphemeral(
            channel=channel, user=user, text=text, thread_ts=thread_ts
        )

    async def _post(
        self, thread: Thread, text: str, *, blocks: list[dict[str, Any]] | None = None
    ) -> str:
        assert thread.origin is not None
        response = await self._client.chat_postMessage(
            channel=thread.origin.channel,
            thread_ts=thread.origin.thread_ts,
            text=text,
            blocks=blocks,
        )
        return str(response["ts"])

    async def _ask(self, thread: Thread, call: ToolCall) -> None:
        assert thread.origin is not None
        channel = thread.origin.channel
        text, rendered = await self._render(thread, call)
        if call.intent == ESCALATION and self._escalation_channel:
            await self._post(thread, messages.escalated_in_thread(call.arguments["reason"]))
            channel = self._escalation_channel
            response = await self._client.chat_postMessage(
                channel=channel, text=text, blocks=rendered
            )
            ts = str(response["ts"])
        else:
            ts = await self._post(thread, text, blocks=rendered)
        await self._store.set_request_message(thread.id, call.call_id, channel, ts)

    async def _refresh(self, thread: Thread, call_id: str) -> None:
        call = thread.call(call_id)
        where = await self._store.request_message(thread.id, call_id)
        if call is None or where is None:
            return
        text, rendered = await self._render(thread, call)
        await self._client.chat_update(channel=where[0], ts=where[1], text=text, blocks=rendered)

    async def _render(self, thread: Thread, call: ToolCall) -> tuple[str, list[dict[str, Any]]]:
        """The fallback text and blocks of a human request, as its state is now."""
        outcome = thread.outcome(call)
        match call.intent:
            case "request_approval":
                text = messages.approval_fallback(call.arguments["summary"])
                if outcome is None:
                    return text, blocks.approval(thread, call)
                return text, blocks.decided(thread, call, outcome)
            case "request_input":
                return messages.question(call.arguments["question"]), blocks.question(
                    thread, call, outcome
                )
            case _:
                link = await self._permalink(thread)
                taken = thread.taken_by(call.call_id)
                rendered = blocks.escalation(
                    thread, call, link=link, taken_by=taken, outcome=outcome
                )
                return messages.escalation_header(call.arguments.get("urgency", "high")), rendered

    async def _cancel_open(self, thread: Thread, stop: Stopped) -> None:
        """Show the request the stop cancelled as cancelled."""
        index = thread.events.index(stop)
        before = thread.model_copy(update={"events": thread.events[:index]})
        request = before.open_request()
        if request is not None:
            await self._refresh(thread, request.call_id)

    async def _remind(self, thread: Thread, call_id: str) -> None:
        call = thread.call(call_id)
        if call is None or call.terms is None:
            return
        kind = {APPROVAL: "approval", INPUT: "question", ESCALATION: "escalation"}[call.intent]
        deciders = call.terms.deciders if call.intent != INPUT else (thread.requester,)
        await self._post(thread, messages.reminder(deciders, call.terms, kind))

    async def _permalink(self, thread: Thread) -> str:
        """A link to the thread, built like chat.getPermalink's from the workspace URL."""
        assert thread.origin is not None
        if self._team_url is None:
            self._team_url = str((await self._client.auth_test())["url"])
        ts = thread.origin.thread_ts.replace(".", "")
        return f"{self._team_url.rstrip('/')}/archives/{thread.origin.channel}/p{ts}"
