"""Interactions count only on what the bot showed: a click on the request's own message, a
submission of a form the bot opened for that person about that request.

A click's button value names a request, but a signed click could come from any message (an
old copy, an ephemeral, a forged container). The delivery ledger records the one message
(channel, ts) that shows each request now; a re-posted or plain-text card replaces it there.
While the card's post is still unanswered (Slack slow), the ledger does not know it yet: then
Slack itself is asked whether the clicked message carries this request's delivery tag, which
only the bot's own post of it can (message metadata is set by the app that posts).

A form is recorded server-side before `views.open` under an `external_id` the bot makes up
(`keys.opened_form`), rather than signing `private_metadata`: a record needs no secret that a
signed request's forger might also hold, is written before Slack shows the form (so no race
with a quick submit, nor a lost `views.open` answer), binds the person and the kind of form,
and is dropped once used, so a submission cannot be replayed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

import aiohttp
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime import keys
from agents.runtime.outbox import DeliveryLedger
from agents.runtime.store import ThreadStore
from bot.slack import dms
from bot.slack.home import offered
from bot.slack.notifier import request_index, request_tag, review_flag, tag_of
from bot.slack.payloads import Click, RequestRef, Submission, request_ref

log = logging.getLogger(__name__)

LOOKUP_SECONDS = 2.0
"""How long a click waits for Slack to say what the clicked message is; Slack wants the
click's 200 within 3 s."""


class OpenedForm(BaseModel):
    """What the bot opened a form for."""

    user: str
    callback_id: str
    metadata: str


class Bindings:
    """Whether a click or a submission is bound to what the bot showed."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._ledger = DeliveryLedger(redis)
        self._store = ThreadStore(redis)

    async def on_card(self, click: Click, ref: RequestRef, client: AsyncWebClient) -> bool:
        """True if `click` was on the message that shows request `ref` now, or in the Home
        view the bot published for the clicker offering it."""
        if click.view_id is not None:
            return await offered(self._redis, user=click.user, view_id=click.view_id, ref=ref)
        if click.ephemeral or click.message_ts is None:
            return False  # the bot never shows a request in an ephemeral message
        dm = await self._ledger.flag(ref.thread_id, dms.flag(ref.call_id, click.user))
        if dm is not None and dm == f"{click.channel} {click.message_ts}":
            return True  # the copy of the card sent to this decider by DM
        where = await self._ledger.request_message(ref.thread_id, ref.call_id)
        if where is not None:
            return where == (click.channel, click.message_ts)
        try:
            return await asyncio.wait_for(
                self._posted_for(click, ref, client), timeout=LOOKUP_SECONDS
            )
        except (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            log.info("could not look up the clicked message: %r", exc)
            return False

    async def on_notice(self, click: Click, ref: RequestRef) -> bool:
        """True if `click` was on the break-glass notice the bot posted for request `ref`."""
        if click.ephemeral or click.message_ts is None:
            return False
        where = await self._ledger.flag(ref.thread_id, review_flag(ref.call_id))
        return where == f"{click.channel} {click.message_ts}"

    async def _posted_for(self, click: Click, ref: RequestRef, client: AsyncWebClient) -> bool:
        """Whether Slack says the clicked message is the bot's post of request `ref`."""
        thread = await self._store.load(ref.thread_id)
        index = request_index(thread, ref.call_id) if thread else None
        if thread is None or thread.origin is None or index is None:
            return False
        ts = click.message_ts
        if click.channel == thread.origin.channel:  # a card in the thread
            page = await client.conversations_replies(
                channel=click.channel,
                ts=thread.origin.thread_ts,
                oldest=ts,
                latest=ts,
                inclusive=True,
                include_all_metadata=True,
                limit=10,
            )
        else:  # a page posted top-level in the escalation channel
            page = await client.conversations_history(
                channel=click.channel,
                oldest=ts,
                latest=ts,
                inclusive=True,
                include_all_metadata=True,
                limit=1,
            )
        prefix = request_tag(thread.id, index)
        return any(
            m.get("ts") == ts and tag_of(m).startswith(prefix) for m in page.get("messages") or []
        )

    async def opening(self, ref: RequestRef, *, user: str, callback_id: str) -> str:
        """Record a form about to be opened for `user`; returns the view's `external_id`."""
        external_id = f"hitl-{secrets.token_hex(16)}"
        form = OpenedForm(user=user, callback_id=callback_id, metadata=ref.encode())
        await self._redis.set(
            keys.opened_form(external_id), form.model_dump_json(), ex=keys.FORM_TTL
        )
        return external_id

    async def submitted(self, form: Submission) -> RequestRef | None:
        """The request `form` is about, if the bot opened this very form for this person
        with this metadata; None for anything else (forged, altered, expired, used)."""
        if not form.external_id:
            return None
        raw = await self._redis.get(keys.opened_form(form.external_id))
        try:
            opened = OpenedForm.model_validate_json(raw) if raw else None
        except ValidationError:
            opened = None
        if opened is None or (opened.user, opened.callback_id, opened.metadata) != (
            form.user,
            form.callback_id,
            form.private_metadata,
        ):
            return None
        return request_ref(opened.metadata)

    async def used(self, form: Submission) -> None:
        """The form decided something: it cannot be submitted again."""
        await self._redis.delete(keys.opened_form(form.external_id))
