"""Interactions count only on what the bot showed: a click on the request's own message, a
submission of a form the bot opened for that person about that request.

A click's button value names a request, but a signed click could come from any message (an
old copy, an ephemeral, a forged container). The delivery ledger records the one message
(channel, ts) that shows each request now; a re-posted or plain-text card replaces it there.

A form is recorded server-side before `views.open` under an `external_id` the bot makes up
(`keys.opened_form`), rather than signing `private_metadata`: a record needs no secret that a
signed request's forger might also hold, is written before Slack shows the form (so no race
with a quick submit, nor a lost `views.open` answer), binds the person and the kind of form,
and is dropped once used, so a submission cannot be replayed.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.outbox import DeliveryLedger
from bot.slack.payloads import Click, RequestRef, Submission, request_ref

POSTING_WAIT = 1.5
"""Seconds a click waits for the ledger to learn where a card just posted is (Slack's answer
to the post may still be on its way); Slack wants its 200 within 3 s."""
POLL = 0.1


class OpenedForm(BaseModel):
    """What the bot opened a form for."""

    user: str
    callback_id: str
    metadata: str


class Bindings:
    """Whether a click or a submission is bound to what the bot showed."""

    def __init__(self, redis: Redis, *, posting_wait: float = POSTING_WAIT) -> None:
        self._redis = redis
        self._ledger = DeliveryLedger(redis)
        self._posting_wait = posting_wait

    async def on_card(self, click: Click, ref: RequestRef) -> bool:
        """True if `click` was on the message that shows request `ref` now."""
        if click.ephemeral or click.message_ts is None:
            return False  # the bot never shows a request in an ephemeral message
        where = await self._ledger.request_message(ref.thread_id, ref.call_id)
        deadline = time.monotonic() + self._posting_wait
        while where is None and time.monotonic() < deadline:
            await asyncio.sleep(POLL)
            where = await self._ledger.request_message(ref.thread_id, ref.call_id)
        return where == (click.channel, click.message_ts)

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
