"""Shows people in Slack what a thread's events mean; the outbox (agents/runtime/outbox.py) calls it
for each saved event, in order, until it returns.

Rendering is a pure projection of the thread: a human request's message is re-rendered from
the thread after every change to it, so an update is safe to repeat. Each post gets a delivery
id (event index and position) recorded in the ledger before and after the call, and carries
it in Slack message metadata: a retry after a crash or a timeout looks for the post before
making it again, so nobody sees a message twice.

Slack unreachable (5xx, 429 after retries, timeout): `DeliveryDeferred`, retried later by the
outbox. Slack refusing for good: a fallback (plain text keeping the buttons; the origin thread
instead of a channel the bot is not in; a new message instead of one that cannot be updated),
and a line for the audit returned to the outbox.

Past 500 lines because posting at most once, finding a post that went through and settling
late copies of a card all read the same delivery tags; splitting them apart would spread one
protocol over several modules. The copies of a card sent by DM (bot/slack/dms.py) and the
approvals inbox (bot/slack/home.py) are delivered here for the same reason: each is one more
post or update made once through the same ledger and claims; their rules live in those
modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pydantic import BaseModel
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from agents.runtime.agent import Agent
from agents.runtime.events import (
    APPROVAL,
    ESCALATION,
    FINAL,
    HUMAN_INTENTS,
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
)
from agents.runtime.outbox import DeliveryLedger, DeliveryRecord
from agents.runtime.thread import Outcome, Thread
from agents.runtime.types import DeliveryDeferred, Tell
from bot.slack import blocks, dms, messages
from bot.slack.blocks import plain as plain_blocks
from bot.slack.home import HomeTab
from bot.slack.status import LiveStatus

log = logging.getLogger(__name__)

WORKING = "hourglass_flowing_sand"
DELIVERY_EVENT = "hitl_delivery"
"""Slack message metadata `event_type` of every post, its payload naming the delivery."""

TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
BLOCK_ERRORS = frozenset({"invalid_blocks", "msg_too_long", "invalid_blocks_format", "no_text"})
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
SEARCH_PAGES = 5


class SlackRefused(Exception):
    """Slack answered a call with `ok: false` for a reason a retry will not change."""

    def __init__(self, method: str, error: str, channel: str) -> None:
        super().__init__(f"Slack refused {method} in {channel}: {error}")
        self.method, self.error, self.channel = method, error, channel


def review_flag(call_id: str) -> str:
    """The ledger flag holding "channel ts" of request `call_id`'s break-glass notice."""
    return f"review:{call_id}"


def request_index(thread: Thread, call_id: str) -> int | None:
    """The event index of request `call_id`'s call: its posts' delivery ids start with it."""
    return next(
        (
            i
            for i, e in enumerate(thread.events)
            if isinstance(e, ToolCall) and e.call_id == call_id
        ),
        None,
    )


def request_tag(thread_id: str, index: int) -> str:
    """What the delivery tag of each post of the request whose call is event `index` starts
    with: a message carrying it is the bot's post of that request."""
    return f"{thread_id}/{index}."


def tag_of(message: dict[str, Any]) -> str:
    """The delivery tag a message carries in its metadata ("" if none)."""
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("id") or "")


@dataclass
class _Delivery:
    """The deliveries of one event: their ids, in order, and what Slack refused."""

    thread: Thread
    index: int
    made: int = 0
    refused: list[str] = field(default_factory=list)

    def next_id(self) -> str:
        self.made += 1
        return f"{self.index}.{self.made}"

    def tag(self, delivery_id: str) -> str:
        return f"{self.thread.id}/{delivery_id}"


class SlackNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        ledger: DeliveryLedger,
        *,
        escalation_channel: str | None,
        claim_seconds: float = 22.0,
        agents: Mapping[str, Agent] | None = None,
        home: HomeTab | None = None,
    ) -> None:
        self._client = client
        # The approvals inbox: its index follows the cards delivered here (bot/slack/home.py).
        self._home = home
        # Their tool models render an approval's call from its arguments (blocks.described).
        self._agents = agents or {}
        self._ledger = ledger
        self._escalation_channel = escalation_channel
        # How long a worker's claim on a post holds: longer than one Slack call can take.
        self._claim_seconds = claim_seconds
        self._token = secrets.token_hex(8)
        self._team_url: str | None = None
        self._status = LiveStatus(client, ledger, self._agents)

    async def deliver(self, thread: Thread, index: int) -> list[str]:
        if thread.origin is None:
            return []
        delivery = _Delivery(thread, index)
        try:
            await self._show(delivery, thread.events[index])
        except SlackRefused as exc:  # no fallback left: the audit says what was not shown
            delivery.refused.append(f"{exc}; nothing else could be shown")
        await self._inbox(delivery, thread.events[index])
        await self._tell_requester(delivery, thread.events[index])
        return delivery.refused

    async def _inbox(self, d: _Delivery, event: Event) -> None:
        """Keep the approvals inbox in step with what was just shown: list an approval request
        once its card is out, unlist it once its end is shown, and publish the Home of each
        person it concerns again (a refused Home is noted for the audit)."""
        if self._home is None:
            return
        thread = d.thread
        call = _approval_concerned(thread, d.index, event)
        if call is None:
            return
        if thread.outcome(call) is None:
            await self._home.index.opened(thread, call)
        else:
            await self._home.index.settled(thread.id, call.call_id)
        for user in await self._home.viewers(self._client, thread, call):
            try:
                await self._api(self._home.publish, client=self._client, user=user)
            except SlackRefused as exc:
                d.refused.append(f"Slack refused views.publish for {user}: {exc.error}")

    async def _show(self, d: _Delivery, event: Event) -> None:
        thread = d.thread
        match event:
            case ToolCall(intent=intent) if intent in HUMAN_INTENTS:
                await self._ask(d, event)
            case ToolCall(intent=intent) if intent == FINAL:
                for piece in messages.final_chunks(event.final.message):
                    await self._post(d, text=piece)
            case ApprovalDecision(break_glass=True) | BreakGlassReviewed():
                await self._show_break_glass(d, event)
            case ApprovalDecision() | HumanResponse() | RequestExpired():
                await self._refresh(d, event.call_id)
            case EscalationTaken(call_id=call_id, user=user):
                await self._refresh(d, call_id)
                await self._post(d, text=messages.on_it(user))
            case ReminderSent(call_id=call_id, about=about):
                remind = self._remind_review if about == "review" else self._remind
                await remind(d, call_id)
            case Paused(by=by, reason=reason) | Resumed(by=by, reason=reason):
                await self._post(d, text=messages.control(event.type, by, reason))
            case Stopped(by=by, reason=reason):
                await self._cancel_open(d, event)
                await self._post(d, text=messages.control("stopped", by, reason))
            case _:
                del thread  # nothing to show for the other events

    async def working(self, thread: Thread, busy: bool) -> None:
        """A status line under the thread (or, where Slack refuses those, an ⏳ on its first
        message) while a worker takes steps in it. Cosmetic: a
        failure is logged and tried again on the next delivery, never stops the run."""
        if thread.origin is None or await self._status.show(thread, busy):
            return  # the status line says it (bot/slack/status.py); else the reaction
        wanted = "on" if busy else "off"
        if (await self._ledger.flag(thread.id, "working") or "off") == wanted:
            return
        call = self._client.reactions_add if busy else self._client.reactions_remove
        origin = thread.origin
        try:
            await call(channel=origin.channel, timestamp=origin.thread_ts, name=WORKING)
        except SlackApiError as exc:
            if _error(exc) not in ("already_reacted", "no_reaction"):
                log.info("working indication: %s", _error(exc) or exc.response.status_code)
                return
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
            log.info("working indication: %r", exc)
            return
        await self._ledger.set_flag(thread.id, "working", wanted)

    # Requests

    async def _ask(self, d: _Delivery, call: ToolCall) -> None:
        thread = d.thread
        assert thread.origin is not None
        text, rendered = await self._render(thread, call)
        channel = thread.origin.channel
        if call.intent == ESCALATION and self._escalation_channel:
            await self._post(d, text=messages.escalated_in_thread(call.escalation.reason))
            try:
                ts = await self._post(
                    d, text=text, blocks=rendered, channel=self._escalation_channel
                )
                channel = self._escalation_channel
            except SlackRefused as exc:
                if exc.error not in CHANNEL_ERRORS:
                    raise
                # Page where the requester is instead, and say what to fix.
                d.refused.append(f"{exc}; the escalation was posted in the thread instead")
                await self._post(d, text=messages.cannot_post_in(exc.channel, exc.error))
                ts = await self._post(d, text=text, blocks=rendered)
        else:
            ts = await self._post(d, text=text, blocks=rendered)
        await self._ledger.set_request_message(thread.id, call.call_id, channel, ts)
        if call.intent == APPROVAL and call.terms is not None and thread.outcome(call) is None:
            await self._dm_deciders(d, call, text, rendered)
        for piece in blocks.overflow(call):  # what the card had to cut, in full
            await self._post(d, text=piece)

    async def _refresh(self, d: _Delivery, call_id: str) -> None:
        """Show request `call_id`'s message as the request stands now."""
        thread = d.thread
        call = thread.call(call_id)
        where = await self._ledger.request_message(thread.id, call_id)
        if call is None or where is None:
            return
        text, rendered = await self._render(thread, call)
        channel, ts = where
        if thread.outcome(call) is not None:
            # A copy we cannot find or update (no history scope, deleted) must not keep the
            # card itself from showing the outcome.
            with contextlib.suppress(SlackRefused):
                await self._settle_copies(thread, call, where, text, rendered)
        try:
            await self._api(
                self._client.chat_update, channel=channel, ts=ts, text=text, blocks=rendered
            )
        except SlackRefused as exc:
            if exc.error in BLOCK_ERRORS:
                d.refused.append(f"{exc}; a plain version was shown")
                plain = plain_blocks(text, rendered)
                await self._api(
                    self._client.chat_update, channel=channel, ts=ts, text=text, blocks=plain
                )
            elif exc.error in GONE_ERRORS | CHANNEL_ERRORS:
                d.refused.append(f"{exc}; the request was posted again in the thread")
                ts = await self._post(d, text=text, blocks=rendered)
                assert thread.origin is not None
                await self._ledger.set_request_message(
                    thread.id, call_id, thread.origin.channel, ts
                )
            else:
                raise
        # After the card: a Slack fault meant for the card's update must not land on a copy.
        await self._refresh_dms(thread, call, text, rendered)

    async def _dm_deciders(
        self, d: _Delivery, call: ToolCall, text: str, rendered: list[dict[str, Any]]
    ) -> None:
        """The card, by DM, to each named decider (bot/slack/dms.py); a DM Slack refuses is
        said in the thread and recorded, and the run goes on."""
        assert call.terms is not None
        for user in dms.recipients(call.terms):
            try:
                channel = await self._dm_channel(user)
                ts = await self._post(d, text=text, blocks=rendered, channel=channel)
            except SlackRefused as exc:
                d.refused.append(f"{exc}; {user} was not sent the request by DM")
                await self._post(d, text=dms.could_not_dm(user, exc.error))
                continue
            await self._ledger.set_flag(
                d.thread.id, dms.flag(call.call_id, user), f"{channel} {ts}"
            )

    async def _dm_channel(self, user: str) -> str:
        """The bot's DM channel with `user` (`conversations.open`), so a lost post can be looked
        for in that channel's history like any other."""
        opened = await self._api(self._client.conversations_open, users=user)
        return str(opened["channel"]["id"])

    async def _refresh_dms(
        self, thread: Thread, call: ToolCall, text: str, rendered: list[dict[str, Any]]
    ) -> None:
        """Show the request as it stands now on each decider's DM copy too."""
        if call.terms is None:
            return
        for user in dms.recipients(call.terms):
            where = await self._ledger.flag(thread.id, dms.flag(call.call_id, user))
            if where is None:
                continue
            channel, ts = where.split(" ", 1)
            with contextlib.suppress(SlackRefused):  # a DM deleted: the thread card still shows it
                await self._api(
                    self._client.chat_update, channel=channel, ts=ts, text=text, blocks=rendered
                )

    async def _tell_requester(self, d: _Delivery, event: Event) -> None:
        """A requester who asked through the API or CLI (the thread's first message is the
        bot's, not theirs) is told by DM how their approval request ended."""
        thread = d.thread
        call = _approval_concerned(thread, d.index, event)
        if call is None or isinstance(event, ToolCall) or thread.origin is None:
            return
        before = thread.model_copy(update={"events": thread.events[: d.index]})
        upto = thread.model_copy(update={"events": thread.events[: d.index + 1]})
        result = upto.outcome(call)
        requester = thread.requester_of(call.call_id)
        if result is None or before.outcome(call) is not None or not dms.is_user(requester):
            return
        if thread.relayed_by(call.call_id) is None:
            return  # they asked in Slack themselves, and see the thread
        agent = self._agents.get(thread.agent)
        summary = blocks.described(call, agent.tool(call.action_intent) if agent else None)
        text = dms.outcome_for_requester(summary.summary, messages.outcome(result))
        try:
            await self._post(d, text=text, channel=await self._dm_channel(requester))
        except SlackRefused as exc:
            d.refused.append(f"{exc}; {requester} was not told the outcome by DM")

    async def _settle_copies(
        self,
        thread: Thread,
        call: ToolCall,
        where: tuple[str, str],
        text: str,
        rendered: list[dict[str, Any]],
    ) -> None:
        """A card post Slack answered too late may land after the bot, having found nothing,
        posted it again: the ledger knows only the second, so the first would keep live
        buttons once the request settles. If this request's post was made again after an
        unanswered try, show the outcome on every copy too (found by its delivery tag)."""
        index = request_index(thread, call.call_id)
        if index is None or await self._ledger.flag(thread.id, f"reposted:{index}") is None:
            return
        assert thread.origin is not None
        channel, ts = where
        in_thread = thread.origin.thread_ts if channel == thread.origin.channel else None
        for copy in await self._tagged(channel, in_thread, request_tag(thread.id, index)):
            copy_ts = str(copy["ts"])
            # Only other copies of the card: the same event's other posts (an escalation's
            # note in the thread, what the card had to cut) have no buttons.
            if copy_ts == ts or not any(
                b.get("type") == "actions" for b in copy.get("blocks") or []
            ):
                continue
            with contextlib.suppress(SlackRefused):  # a copy deleted meanwhile: nothing to show
                await self._api(
                    self._client.chat_update,
                    channel=channel,
                    ts=copy_ts,
                    text=text,
                    blocks=rendered,
                )

    async def _render(self, thread: Thread, call: ToolCall) -> tuple[str, list[dict[str, Any]]]:
        """The fallback text and blocks of a human request, as its state is now."""
        outcome = thread.outcome(call)
        match call.intent:
            case "request_approval":
                agent = self._agents.get(thread.agent)
                tool = agent.tool(call.action_intent) if agent else None
                if outcome is None:
                    return blocks.approval_text(call, tool), blocks.approval(thread, call, tool)
                text = blocks.decided_text(thread, call, outcome, tool)
                return text, blocks.decided(thread, call, outcome, tool)
            case "request_input":
                return messages.question(call.input_request.question), blocks.question(
                    thread, call, outcome
                )
            case _:
                link = await self._permalink(thread)
                taken = thread.taken_by(call.call_id)
                rendered = blocks.escalation(
                    thread, call, link=link, taken_by=taken, outcome=outcome
                )
                return messages.escalation_header(call.escalation.urgency), rendered

    async def _cancel_open(self, d: _Delivery, stop: Stopped) -> None:
        """Show the request the stop cancelled as cancelled."""
        thread = d.thread
        before = thread.model_copy(update={"events": thread.events[: d.index]})
        request = before.open_request()
        if request is not None:
            await self._refresh(d, request.call_id)

    async def _remind(self, d: _Delivery, call_id: str) -> None:
        thread = d.thread
        call = thread.call(call_id)
        if call is None or call.terms is None:
            return
        kind = KINDS[call.intent]
        deciders = (
            call.terms.deciders if call.intent != INPUT else (thread.requester_of(call.call_id),)
        )
        await self._post(d, text=messages.reminder(deciders, call.terms, kind))

    # Break-glass

    async def _show_break_glass(
        self, d: _Delivery, event: ApprovalDecision | BreakGlassReviewed
    ) -> None:
        if isinstance(event, BreakGlassReviewed):
            await self._show_review(d, event.call_id)
            return
        await self._refresh(d, event.call_id)
        await self._break_glass(d, event.call_id)

    async def _break_glass(self, d: _Delivery, call_id: str) -> None:
        """Tell the deciders at once: a notice in the thread mentioning them, with the
        Acknowledge button, and a DM to each named user."""
        thread, call = d.thread, d.thread.call(call_id)
        decision = thread.break_glass(call_id)
        if call is None or call.terms is None or decision is None or thread.origin is None:
            return
        tool = self._tool(thread, call)
        # As the notice stood when posted: a review made since shows by the review's update.
        before = thread.model_copy(update={"events": thread.events[: d.index + 1]})
        text, rendered = blocks.break_glass_notice(before, call, tool)
        ts = await self._post(d, text=text, blocks=rendered)
        await self._ledger.set_flag(
            thread.id, review_flag(call_id), f"{thread.origin.channel} {ts}"
        )
        summary = blocks.described(call, tool).summary
        dm = messages.break_glass_dm(decision.user, summary, decision.reason or "")
        for user in call.terms.deciders:
            if user.startswith(("U", "W")):
                try:
                    await self._post(d, text=dm, channel=await self._dm_channel(user))
                except SlackRefused as exc:  # one DM refused must not keep the others back
                    d.refused.append(f"{exc}; {user} was not sent the break-glass DM")

    async def _show_review(self, d: _Delivery, call_id: str) -> None:
        """Show on the break-glass notice who acknowledged it (no more button)."""
        thread, call = d.thread, d.thread.call(call_id)
        where = await self._ledger.flag(thread.id, review_flag(call_id))
        if call is None or where is None or thread.break_glass(call_id) is None:
            return
        channel, ts = where.split(" ", 1)
        text, rendered = blocks.break_glass_notice(thread, call, self._tool(thread, call))
        await self._api(
            self._client.chat_update, channel=channel, ts=ts, text=text, blocks=rendered
        )

    async def _remind_review(self, d: _Delivery, call_id: str) -> None:
        call = d.thread.call(call_id)
        if call is not None and call.terms is not None and d.thread.reviewed_by(call_id) is None:
            await self._post(d, text=messages.break_glass_review_reminder(call.terms.deciders))

    def _tool(self, thread: Thread, call: ToolCall) -> type[BaseModel] | None:
        agent = self._agents.get(thread.agent)
        return agent.tool(call.action_intent) if agent else None

    async def tell(self, thread: Thread, tell: Tell) -> list[str]:
        """The ephemeral that tells a person why their click, form or reply was not taken,
        where the request is shown."""
        if thread.origin is None:
            return []
        channel, thread_ts = thread.origin.channel, thread.origin.thread_ts
        where = (
            await self._ledger.request_message(thread.id, tell.call_id) if tell.call_id else None
        )
        # A message in the thread is answered where it was written; a click, where its card is.
        if where is not None and where[0] != channel and tell.reason != "pending":
            channel, thread_ts = where
        deciders, kind = _deciders(thread, tell)
        text = messages.refusal(
            tell.reason, _settled(thread, tell), tell.detail, deciders=deciders, kind=kind
        )
        try:
            await self._api(
                self._client.chat_postEphemeral,
                channel=channel,
                user=tell.user,
                text=text,
                thread_ts=thread_ts,
            )
        except SlackRefused as exc:
            return [f"{exc}; {tell.user} was not told why their input was refused"]
        return []

    # Posting, at most once

    async def _post(
        self,
        d: _Delivery,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        channel: str | None = None,
    ) -> str:
        """Post in the thread (or top-level in `channel`) once; returns the message's ts. A
        message Slack refuses for its blocks or length is shown plain instead."""
        try:
            return await self._post_once(d, text=text, blocks=blocks, channel=channel)
        except SlackRefused as exc:
            if exc.error not in BLOCK_ERRORS:
                raise
            d.refused.append(f"{exc}; a plain version was shown")
            plain = plain_blocks(text, blocks)
            return await self._post_once(d, text=text, blocks=plain, channel=channel)

    async def _post_once(
        self,
        d: _Delivery,
        *,
        text: str,
        blocks: list[dict[str, Any]] | None,
        channel: str | None,
    ) -> str:
        thread = d.thread
        assert thread.origin is not None
        thread_ts = None if channel else thread.origin.thread_ts
        channel = channel or thread.origin.channel
        delivery_id = d.next_id()
        record = await self._ledger.get(thread.id, delivery_id)
        if record is None or record.state == "sending":
            async with self._claimed(d, delivery_id):
                record = await self._ledger.get(thread.id, delivery_id)  # it may have landed
                if record is None or record.state == "sending":
                    return await self._post_claimed(
                        d,
                        delivery_id,
                        record,
                        channel=channel,
                        thread_ts=thread_ts,
                        text=text,
                        blocks=blocks,
                    )
        if record.state == "refused":
            raise SlackRefused("chat.postMessage", record.error or "refused", channel)
        assert record.ts is not None
        return record.ts

    async def _post_claimed(
        self,
        d: _Delivery,
        delivery_id: str,
        record: DeliveryRecord | None,
        *,
        channel: str,
        thread_ts: str | None,
        text: str,
        blocks: list[dict[str, Any]] | None,
    ) -> str:
        thread = d.thread
        if record is not None:  # "sending": the last try may have gone through
            found = await self._find(channel, thread_ts, d.tag(delivery_id), since=record.at)
            if found is not None:
                await self._sent(thread.id, delivery_id, channel, found)
                return found
            # Not there (yet): if Slack makes that try late, it lands as a second copy.
            await self._ledger.set_flag(thread.id, f"reposted:{d.index}", "1")
        await self._ledger.put(
            thread.id, delivery_id, DeliveryRecord(state="sending", channel=channel, at=time.time())
        )
        metadata = {"event_type": DELIVERY_EVENT, "event_payload": {"id": d.tag(delivery_id)}}
        try:
            response = await self._api(
                self._client.chat_postMessage,
                channel=channel,
                thread_ts=thread_ts,
                text=text,
                blocks=blocks,
                metadata=metadata,
            )
        except SlackRefused as exc:
            refused = DeliveryRecord(state="refused", channel=channel, error=exc.error)
            await self._ledger.put(thread.id, delivery_id, refused)
            raise
        ts = str(response["ts"])
        await self._sent(thread.id, delivery_id, channel, ts)
        return ts

    @contextlib.asynccontextmanager
    async def _claimed(self, d: _Delivery, delivery_id: str) -> AsyncIterator[None]:
        """Hold the right to make this call while making it; put the delivery off while
        another worker may still be making it (or its call may still land)."""
        thread_id = d.thread.id
        lapses = await self._renew_claim(thread_id, delivery_id)
        if lapses is not None:
            raise DeliveryDeferred(
                f"delivery {delivery_id} is being made by another worker", at=lapses + 0.1
            )
        renewing = asyncio.create_task(self._keep_claim(thread_id, delivery_id))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await self._ledger.release(thread_id, delivery_id, token=self._token)

    async def _renew_claim(self, thread_id: str, delivery_id: str) -> float | None:
        return await self._ledger.claim(
            thread_id, delivery_id, token=self._token, stale_after=self._claim_seconds
        )

    async def _keep_claim(self, thread_id: str, delivery_id: str) -> None:
        """Renew the claim while a long call (slack_sdk waiting out a 429) is under way."""
        while True:
            await asyncio.sleep(self._claim_seconds / 3)
            with contextlib.suppress(RedisError):
                await self._renew_claim(thread_id, delivery_id)

    async def _sent(self, thread_id: str, delivery_id: str, channel: str, ts: str) -> None:
        record = DeliveryRecord(state="sent", channel=channel, ts=ts)
        await self._ledger.put(thread_id, delivery_id, record)

    async def _find(
        self, channel: str, thread_ts: str | None, tag: str, *, since: float
    ) -> str | None:
        """The ts of a post tagged `tag`, if an earlier try did make it."""
        oldest = f"{max(0.0, since - 60):.6f}"
        async for message in self._posts(channel, thread_ts, oldest=oldest):
            if tag_of(message) == tag:
                return str(message["ts"])
        return None

    async def _tagged(
        self, channel: str, thread_ts: str | None, prefix: str
    ) -> list[dict[str, Any]]:
        """Every post in the thread (or top-level in `channel`) whose delivery tag starts with
        `prefix`."""
        return [m async for m in self._posts(channel, thread_ts) if tag_of(m).startswith(prefix)]

    async def _posts(
        self, channel: str, thread_ts: str | None, *, oldest: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """A thread's replies, or the channel's top-level messages for a post outside a thread,
        with their metadata; at most SEARCH_PAGES pages."""
        cursor: str | None = None
        method, where = (
            (self._client.conversations_replies, {"ts": thread_ts})
            if thread_ts is not None
            else (self._client.conversations_history, {})
        )
        if oldest is not None:
            where["oldest"] = oldest
        for _ in range(SEARCH_PAGES):
            page = await self._api(
                method,
                channel=channel,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
                **where,
            )
            for message in page.get("messages") or []:
                yield message
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    async def _api(
        self, method: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> AsyncSlackResponse:
        """Call the Web API: unreachable -> `DeliveryDeferred`; refused -> `SlackRefused`."""
        channel = str(kwargs.get("channel", ""))
        name = getattr(method, "__name__", "api").replace("_", ".", 1)
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            error = _error(exc)
            if exc.response.status_code >= 500 or exc.response.status_code == 429:
                raise DeliveryDeferred(f"{name}: HTTP {exc.response.status_code}") from exc
            if error is None or error in TRANSIENT_ERRORS:
                raise DeliveryDeferred(f"{name}: {error}") from exc
            raise SlackRefused(name, error, channel) from exc
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
            raise DeliveryDeferred(f"{name}: {type(exc).__name__}") from exc

    async def _permalink(self, thread: Thread) -> str:
        """A link to the thread, built like chat.getPermalink's from the workspace URL."""
        assert thread.origin is not None
        if self._team_url is None:
            response = await self._api(self._client.auth_test)
            self._team_url = str(response["url"])
        ts = thread.origin.thread_ts.replace(".", "")
        return f"{self._team_url.rstrip('/')}/archives/{thread.origin.channel}/p{ts}"


def _approval_concerned(thread: Thread, index: int, event: Event) -> ToolCall | None:
    """The approval request event `index` opens, votes on or ends, if any."""
    match event:
        case ToolCall(intent=intent) if intent == APPROVAL:
            return event
        case ApprovalDecision(call_id=call_id) | RequestExpired(call_id=call_id):
            call = thread.call(call_id)
        case Stopped():
            before = thread.model_copy(update={"events": thread.events[:index]})
            call = before.open_request()
        case _:
            call = None
    return call if call is not None and call.intent == APPROVAL else None


def _error(exc: SlackApiError) -> str | None:
    data = exc.response.data
    return str(data.get("error")) if isinstance(data, dict) and data.get("error") else None


KINDS = {APPROVAL: "approval", INPUT: "question", ESCALATION: "escalation"}


def _deciders(thread: Thread, tell: Tell) -> tuple[tuple[str, ...], str]:
    """Who can settle the request a person was refused on (its users and user groups, as its
    terms name them; a question's requester too), without that person unless they only wrote
    in the thread (then they may be one of them); and its kind."""
    call = thread.call(tell.call_id) if tell.call_id else None
    if call is None or call.terms is None:
        return (), "approval"
    named = call.terms.deciders
    if call.intent == INPUT:
        named = (thread.requester_of(call.call_id), *named)
    keep = tell.reason == "pending"
    others = tuple(dict.fromkeys(d for d in named if keep or d != tell.user))
    return others, KINDS.get(call.intent, "approval")


def _settled(thread: Thread, tell: Tell) -> Outcome | None:
    """How the request a refused person acted on ended, if it did."""
    call = thread.call(tell.call_id) if tell.call_id else None
    return thread.outcome(call) if call else None
