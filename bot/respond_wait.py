"""Waiting for a worker to apply or refuse a queued answer (`hitl threads respond`): the thread
records the job's key with the decision it applied, and a refusal is kept under that key."""

from __future__ import annotations

import asyncio
import time

from agents.runtime.events import Event
from agents.runtime.outbox import DeliveryLedger
from agents.runtime.store import ThreadStore
from agents.runtime.types import Tell

POLL_SECONDS = 0.1


async def outcome(
    store: ThreadStore, ledger: DeliveryLedger, thread_id: str, job: str, *, within: float
) -> Event | Tell | None:
    """The event job `job` added to the thread, or the Tell that refused it; None if neither
    happened within `within` seconds (the job is still queued)."""
    deadline = time.monotonic() + within
    while True:
        refused = await ledger.refusal(thread_id, job)
        if refused is not None:
            return refused
        thread = await store.load(thread_id)
        applied = [e for e in thread.events if getattr(e, "job", None) == job] if thread else []
        if applied:
            return applied[0]
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(POLL_SECONDS)
