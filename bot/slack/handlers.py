"""Bolt listeners: thin shims that turn a Slack payload into a typed job and enqueue it.

Jobs are enqueued *before* `ack()`: it takes well under a millisecond, and if Redis is down the
missing 200 makes Slack retry instead of the event being lost. Deliveries are deduplicated on
Slack's event id and on the message (channel, ts), atomically with the enqueue."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import ValidationError
from redis.asyncio import Redis
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime import keys, validation
from agents.runtime.agent import Agent
from agents.runtime.events import ToolCall
from agents.runtime.jobs import Acknowledge, Decide, Job, JobQueue, Launch, Reply, Respond, Take
from agents.runtime.policy import Policy
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from bot.slack import blocks, messages, payloads
from bot.slack.bindings import Bindings
from bot.slack.home import HomeTab, publish_home
from bot.slack.payloads import Click, MessageEvent, RequestRef, Submission

log = logging.getLogger(__name__)


class Handlers:
    def __init__(
        self,
        *,
        queue: JobQueue,
        store: ThreadStore,
        agents: Mapping[str, Agent],
        redis: Redis,
        policy: Policy | None = None,
    ) -> None:
        self._queue = queue
        self._store = store
        self._agents = agents
        # Lets the Edit form show a policy limit as a field error; the runtime checks anyway.
        self._policy = policy
        self._bindings = Bindings(redis)
        self._home = HomeTab(redis, store=store, agents=agents)

    # Events

    async def on_mention(
        self, ack: AsyncAck, body: dict[str, Any], context: Any, request: AsyncBoltRequest
    ) -> None:
        event = payloads.message_event(body)
        job = await self._mention_job(event, context.get("bot_user_id")) if event else None
        if event is not None and job is not None:
            await self._enqueue_event(job, body, event, request)
        await ack()

    async def on_message(
        self, ack: AsyncAck, body: dict[str, Any], context: Any, request: AsyncBoltRequest
    ) -> None:
        event = payloads.message_event(body)
        job = await self._reply_job(event, context.get("bot_user_id")) if event else None
        if event is not None and job is not None:
            await self._enqueue_event(job, body, event, request)
        await ack()

    async def on_home_opened(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Someone opened the app's Home tab: show them what waits for them."""
        await ack()
        opened = payloads.home_opened(body)
        if opened is not None:
            await publish_home(self._home, client, opened)

    async def on_home_link(self, ack: AsyncAck) -> None:
        """The Home tab's Open button is a link; Slack still sends its click."""
        await ack()

    async def on_other_event(self, ack: AsyncAck) -> None:
        """Subscribed events we take no action on still get their 200."""
        await ack()

    # Buttons

    async def on_approve(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        click, ref, refusal = await self._clicked(body, client)
        if click is not None and ref is not None:
            await self._queue.enqueue(_decide(ref, click.user, approved=True))
        await ack()
        await _tell(client, click, refusal)

    async def on_reject(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click, ref, refusal = await self._clicked(body, client)
        found = await self._request(ref)
        if click is None or ref is None or found is None:
            await _tell(client, click, refusal or messages.UNKNOWN_THREAD)
            return
        agent = self._agents.get(found[0].agent)
        tool = agent.tool(found[1].action_intent) if agent else None
        form = await self._bindings.opening(ref, user=click.user, callback_id=blocks.REJECT_VIEW)
        modal = blocks.reject_modal(ref, found[1], tool, external_id=form)
        await _open_modal(client, click, modal)

    async def on_edit(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        click, ref, refusal = await self._clicked(body, client)
        found = await self._request(ref)
        tool = self._agents[found[0].agent].tool(found[1].action_intent) if found else None
        if click is None or ref is None or found is None or tool is None:
            await _tell(client, click, refusal or messages.UNKNOWN_THREAD)
            return
        form = await self._bindings.opening(ref, user=click.user, callback_id=blocks.EDIT_VIEW)
        modal = blocks.edit_modal(ref, found[1], tool.model_json_schema(), external_id=form)
        await _open_modal(client, click, modal)

    async def on_answer(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        click, ref, refusal = await self._clicked(body, client)
        if click is not None and ref is not None and ref.answer is not None:
            job = Respond(
                thread_id=ref.thread_id, call_id=ref.call_id, user=click.user, text=ref.answer
            )
            await self._queue.enqueue(job)
        await ack()
        await _tell(client, click, refusal)

    async def on_take(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        click, ref, refusal = await self._clicked(body, client)
        if click is not None and ref is not None:
            await self._queue.enqueue(
                Take(thread_id=ref.thread_id, call_id=ref.call_id, user=click.user)
            )
        await ack()
        await _tell(client, click, refusal)

    async def on_break_glass(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Only the requester may break glass, where policy allows it: they get the reason
        form; anyone else is told privately who can approve instead."""
        await ack()
        click, ref, refusal = await self._clicked(body, client)
        found = await self._request(ref)
        if click is None or ref is None or found is None:
            await _tell(client, click, refusal or messages.UNKNOWN_THREAD)
            return
        thread, call = found
        if call.terms is None or not call.terms.break_glass:
            await _tell(client, click, messages.BREAK_GLASS_REFUSALS["break_glass:not_allowed"])
            return
        requester = thread.requester_of(call.call_id)
        if click.user != requester:
            why = messages.break_glass_not_yours(requester, call.terms.deciders)
            await _tell(client, click, why)
            return
        agent = self._agents.get(thread.agent)
        tool = agent.tool(call.action_intent) if agent else None
        form = await self._bindings.opening(
            ref, user=click.user, callback_id=blocks.BREAK_GLASS_VIEW
        )
        await _open_modal(
            client, click, blocks.break_glass_modal(ref, call, tool, external_id=form)
        )

    async def on_acknowledge(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A click on a break-glass notice's Acknowledge: the runtime judges who may."""
        click = payloads.click(body)
        ref = payloads.request_ref(click.value) if click else None
        refusal: str | None = None
        if click is not None and (ref is None or not await self._store.exists(ref.thread_id)):
            refusal = messages.UNKNOWN_THREAD
        elif click is not None and ref is not None:
            if await self._bindings.on_notice(click, ref):
                job = Acknowledge(thread_id=ref.thread_id, call_id=ref.call_id, user=click.user)
                await self._queue.enqueue(job)
            else:
                refusal = messages.CARD_OUT_OF_DATE
        await ack()
        await _tell(client, click, refusal)

    async def on_unknown_action(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await _tell(client, payloads.click(body), messages.UNKNOWN_ACTION)

    # Modals

    async def on_reject_reason(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        form, ref = await self._submitted(body)
        reason = " ".join((form.values.get(blocks.REASON_BLOCK) or "").split()) if form else ""
        if form is None or ref is None:
            await _refuse_form(ack, form, messages.FORM_NOT_OURS)
            return
        if not reason:
            await ack(
                response_action="errors", errors={blocks.REASON_BLOCK: messages.REASON_REQUIRED}
            )
            return
        await self._queue.enqueue(_decide(ref, form.user, approved=False, reason=reason))
        await self._bindings.used(form)
        await ack()

    async def on_break_glass_reason(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        form, ref = await self._submitted(body)
        reason = " ".join((form.values.get(blocks.REASON_BLOCK) or "").split()) if form else ""
        if form is None or ref is None:
            await _refuse_form(ack, form, messages.FORM_NOT_OURS)
            return
        if len(reason) < messages.BREAK_GLASS_MIN_REASON:
            errors = {blocks.REASON_BLOCK: messages.BREAK_GLASS_REASON_REQUIRED}
            await ack(response_action="errors", errors=errors)
            return
        await self._queue.enqueue(
            _decide(ref, form.user, approved=True, reason=reason, break_glass=True)
        )
        await self._bindings.used(form)
        await ack()

    async def on_edit_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        form, ref = await self._submitted(body)
        found = await self._request(ref)
        if form is None or ref is None or found is None:
            why = messages.FORM_NOT_OURS if ref is None else messages.UNKNOWN_THREAD
            await _refuse_form(ack, form, why)
            return
        thread, call = found
        edited, errors = self._edited(thread, call.action, form)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        changed = edited if edited != call.action else None
        await self._queue.enqueue(_decide(ref, form.user, approved=True, edited_action=changed))
        await self._bindings.used(form)
        await ack()

    async def on_other_view(self, ack: AsyncAck) -> None:
        await ack()

    # Conversions

    async def _mention_job(self, event: MessageEvent, bot_user_id: str | None) -> Job | None:
        # Broadcast replies and messages with files mention the bot as any message does.
        if not _by_person(event, bot_user_id):
            return None
        assert event.user is not None
        thread_id = await self._store.find(event.origin)
        if thread_id is not None:
            return Reply(
                thread_id=thread_id,
                user=event.user,
                text=event.said,
                message_ts=event.ts,
                mentioned=True,
            )
        return Launch(user=event.user, text=event.said, origin=event.origin, message_ts=event.ts)

    async def _reply_job(self, event: MessageEvent, bot_user_id: str | None) -> Job | None:
        # Only a person's new message inside a thread (also sent to the channel or with files
        # attached, but no edits, deletions or bots); a mention of the bot arrives as
        # app_mention too and is taken from there.
        if not _by_person(event, bot_user_id) or event.thread_ts is None:
            return None
        if event.mentions(bot_user_id):
            return None
        assert event.user is not None
        thread_id = await self._store.find(event.origin)
        if thread_id is None:
            return None
        return Reply(thread_id=thread_id, user=event.user, text=event.said, message_ts=event.ts)

    async def _enqueue_event(
        self, job: Job, body: dict[str, Any], event: MessageEvent, request: AsyncBoltRequest
    ) -> None:
        retry = request.headers.get("x-slack-retry-num", ["0"])[0]
        once = [
            keys.seen("event", str(body.get("event_id"))),
            keys.seen("msg", f"{event.channel}:{event.ts}"),
        ]
        added = await self._queue.enqueue(job, once=once, marker=f"retry={retry}")
        if retry != "0" or not added:
            reason = request.headers.get("x-slack-retry-reason", [""])[0]
            log.info(
                "slack delivery event_id=%s retry=%s reason=%s duplicate=%s",
                body.get("event_id"),
                retry,
                reason,
                not added,
            )

    async def _clicked(
        self, body: dict[str, Any], client: AsyncWebClient
    ) -> tuple[Click | None, RequestRef | None, str | None]:
        """The click and the request it acts on; or, instead of the request, why the click
        acts on nothing (to tell the clicker)."""
        click = payloads.click(body)
        ref = payloads.request_ref(click.value) if click else None
        if click is None:
            return None, None, None
        if ref is None or not await self._store.exists(ref.thread_id):
            return click, None, messages.UNKNOWN_THREAD
        if not await self._bindings.on_card(click, ref, client):
            return click, None, messages.CARD_OUT_OF_DATE
        return click, ref, None

    async def _submitted(self, body: dict[str, Any]) -> tuple[Submission | None, RequestRef | None]:
        """The submitted form and its request, only if the bot opened that form (else None)."""
        form = payloads.submission(body)
        return form, await self._bindings.submitted(form) if form else None

    async def _request(self, ref: RequestRef | None) -> tuple[Thread, ToolCall] | None:
        """The thread and the request call a button or modal refers to, if they exist."""
        thread = await self._store.load(ref.thread_id) if ref else None
        call = thread.call(ref.call_id) if thread and ref else None
        return (thread, call) if thread and call else None

    def _edited(
        self, thread: Thread, action: dict[str, Any], form: Submission
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """The edited call, validated by the tool's model, or errors per field."""
        values = {name: value for name, value in form.values.items() if value is not None}
        model = self._agents[thread.agent].tool(action["intent"])
        if model is None:
            return {}, {next(iter(form.values), "form"): "this tool can no longer be edited"}
        try:
            # The tool's own model, so each error names the field (block) it is about.
            tool = model.model_validate({**action, **values})
        except ValidationError as exc:
            # One sentence per field, never pydantic's wording or the field's pattern.
            errors = validation.problems(exc, model)
            if validation.FORM in errors:
                errors[next(iter(form.values), validation.FORM)] = errors.pop(validation.FORM)
            return {}, errors
        edited = tool.model_dump(mode="json")
        breaches = self._policy.over_limits(edited) if self._policy is not None else {}
        if breaches:
            # A limit on an argument the form does not show is told on its first field.
            first = next(iter(form.values), "form")
            return {}, {arg if arg in form.values else first: why for arg, why in breaches.items()}
        return edited, {}


def _by_person(event: MessageEvent, bot_user_id: str | None) -> bool:
    """A person's new message, and not one of ours (Bolt drops our own events too)."""
    return event.from_person and event.user != bot_user_id


def _decide(
    ref: RequestRef,
    user: str,
    *,
    approved: bool,
    reason: str | None = None,
    edited_action: dict[str, Any] | None = None,
    break_glass: bool = False,
) -> Decide:
    return Decide(
        thread_id=ref.thread_id,
        call_id=ref.call_id,
        action_hash=ref.action_hash,
        approved=approved,
        user=user,
        reason=reason,
        edited_action=edited_action,
        break_glass=break_glass,
    )


async def _refuse_form(ack: AsyncAck, form: Submission | None, why: str) -> None:
    """Keep a form the bot did not open (or whose request is gone) open, saying why on one of
    its fields; a form without fields is just closed. Either way nothing was decided."""
    field = next(iter(form.values), None) if form else None
    if field is None:
        await ack()
        return
    await ack(response_action="errors", errors={field: why})


async def _open_modal(client: AsyncWebClient, click: Click, modal: dict[str, Any]) -> None:
    """Open a form; if Slack does not, say so (its trigger id is valid 3 s, so a retry would
    fail: the person clicks again)."""
    try:
        await client.views_open(trigger_id=click.trigger_id, view=modal)
    except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("views.open failed: %r", exc)
        await _tell(client, click, messages.FORM_FAILED)


async def _tell(client: AsyncWebClient, click: Click | None, text: str | None) -> None:
    if click is None or text is None:
        return
    try:
        if click.view_id is not None:  # the Home tab has no channel: tell them in the app's DM
            await client.chat_postMessage(channel=click.user, text=text)
            return
        await client.chat_postEphemeral(channel=click.channel, user=click.user, text=text)
    except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        # e.g. a forged click from a user that does not exist; the click changed nothing
        log.info("could not tell %s: %r", click.user, exc)
