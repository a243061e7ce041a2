"""Tells Slack what happened in a thread: posts requests, questions and results, updates an
approval message once decided, and sends ephemeral refusals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from agents.events import ApprovalDecision, Event, Thread, ToolCall
from agents.store import ThreadStore
from agents.types import Refusal
from bot import blocks, messages


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, store: ThreadStore) -> None:
        self._client = client
        self._store = store

    async def publish(self, thread: Thread, new_events: Sequence[Event]) -> None:
        if thread.origin is None:
            return
        for event in new_events:
            match event:
                case ToolCall(intent="request_approval"):
                    await self._ask_approval(thread, event)
                case ToolCall(intent="request_input", arguments=arguments):
                    await self._post(thread, messages.question(arguments["question"]))
                case ToolCall(intent="done_for_now", arguments=arguments):
                    await self._post(thread, arguments["message"])
                case ApprovalDecision():
                    await self._mark_decided(thread, event)
                case _:
                    pass

    async def refuse(self, thread: Thread, user: str, refusal: Refusal) -> None:
        if thread.origin is None:
            return
        settled = refusal.settled
        match refusal.reason:
            case "already_settled" if settled is not None:
                approved = settled.approved if isinstance(settled, ApprovalDecision) else None
                text = messages.already_settled(settled.user, settled.at, approved)
            case "not_allowed":
                text = messages.NOT_ALLOWED
            case _:
                text = messages.STALE
        await self._client.chat_postEphemeral(
            channel=thread.origin.channel, user=user, text=text, thread_ts=thread.origin.thread_ts
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

    async def _ask_approval(self, thread: Thread, call: ToolCall) -> None:
        assert thread.origin is not None
        ts = await self._post(
            thread,
            messages.approval_fallback(call.arguments["summary"]),
            blocks=blocks.approval(thread.id, thread.requester, call),
        )
        await self._store.set_request_message(thread.id, call.call_id, thread.origin.channel, ts)

    async def _mark_decided(self, thread: Thread, decision: ApprovalDecision) -> None:
        call = thread.call(decision.call_id)
        where = await self._store.request_message(thread.id, decision.call_id)
        if call is None or where is None:
            return
        channel, ts = where
        await self._client.chat_update(
            channel=channel,
            ts=ts,
            text=messages.approval_fallback(call.arguments["summary"]),
            blocks=blocks.decided(call, decision),
        )
