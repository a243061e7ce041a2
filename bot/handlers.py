"""Bolt listeners: thin shims that turn a Slack payload into a typed job and enqueue it.

The job is enqueued *before* `ack()`: XADD takes well under a millisecond, and if Redis is down
the missing 200 makes Slack retry instead of the event being lost."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from agents.jobs import Decide, Job, JobQueue, Launch, Reply
from agents.store import ThreadStore
from bot import messages, payloads
from bot.blocks import APPROVE_ACTION


class Handlers:
    def __init__(self, *, queue: JobQueue, store: ThreadStore) -> None:
        self._queue = queue
        self._store = store

    async def on_mention(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        event = payloads.message_event(body)
        job = await self._mention_job(event) if event and event.from_person else None
        if job is not None:
            await self._queue.enqueue(job)
        await ack()

    async def on_message(self, ack: AsyncAck, body: dict[str, Any], context: Any) -> None:
        event = payloads.message_event(body)
        job = await self._reply_job(event, context.get("bot_user_id")) if event else None
        if job is not None:
            await self._queue.enqueue(job)
        await ack()

    async def on_decision(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        click = payloads.click(body)
        ref = payloads.approval_ref(click.value) if click else None
        if click is None or ref is None or not await self._store.exists(ref.thread_id):
            await ack()
            await _tell(client, click, messages.UNKNOWN_THREAD)
            return
        await self._queue.enqueue(
            Decide(
                thread_id=ref.thread_id,
                call_id=ref.call_id,
                action_hash=ref.action_hash,
                approved=click.action_id == APPROVE_ACTION,
                user=click.user,
            )
        )
        await ack()

    async def on_unknown_action(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await _tell(client, payloads.click(body), messages.UNKNOWN_ACTION)

    async def _mention_job(self, event: payloads.MessageEvent) -> Job | None:
        assert event.user is not None
        thread_id = await self._store.find(event.origin)
        if thread_id is not None:
            return Reply(
                thread_id=thread_id,
                user=event.user,
                text=event.text,
                message_ts=event.ts,
                mentioned=True,
            )
        return Launch(user=event.user, text=event.text, origin=event.origin, message_ts=event.ts)

    async def _reply_job(self, event: payloads.MessageEvent, bot_user_id: str | None) -> Job | None:
        # Only a person's plain reply inside a thread; a mention arrives as app_mention too.
        if not event.from_person or event.thread_ts is None or event.mentions(bot_user_id):
            return None
        assert event.user is not None
        thread_id = await self._store.find(event.origin)
        if thread_id is None:
            return None
        return Reply(thread_id=thread_id, user=event.user, text=event.text, message_ts=event.ts)


async def _tell(client: AsyncWebClient, click: payloads.Click | None, text: str) -> None:
    if click is not None:
        await client.chat_postEphemeral(channel=click.channel, user=click.user, text=text)
