"""Helpers for the reliability suite: counts, signed deliveries to any bot process, and readers
of what Redis holds. Builds on tests/support.py; no project code is replaced.

It stays beside the reliability tests rather than in tests/support.py because only they use it:
the tally every chaos test reports, raw signed posts to a bot process of the test's choosing
(not through the emulator), and whole-Redis audits that only make sense after a storm."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import httpx
from redis.asyncio import Redis
from slack_sdk.signature import SignatureVerifier

from agents.runtime import keys
from agents.runtime.events import ApprovalDecision
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from bot.adapters import simulated_store
from tests.conftest import SIGNING_SECRET
from tools.deploy import DEPLOY_TOOLS, SimulatedDeployer

FORM = "application/x-www-form-urlencoded"
SIGNER = SignatureVerifier(SIGNING_SECRET)


class Tally(Counter[str]):
    """Counts a test reports: events sent, runs, duplicates, losses, and whatever else."""

    def line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in sorted(self.items()))


def signed_headers(body: bytes | str, *, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Slack's v0 signature of the exact bytes sent (which need not be UTF-8)."""
    ts = str(int(time.time()))
    raw = body.encode() if isinstance(body, str) else body
    mac = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
    signature = f"v0={mac.hexdigest()}"
    assert isinstance(body, bytes) or signature == SIGNER.generate_signature(
        timestamp=ts, body=body
    )
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature} | (extra or {})


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` to a bot's /slack/events, signed like Slack."""
    sent = signed_headers(body, extra={"Content-Type": content_type} | (headers or {}))
    return await client.post(url, content=body.encode(), headers=sent)


def interactive(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


async def deployed(redis: Redis) -> list[tuple[str, str, str]]:
    """Every simulated deployment, one row per deployment (duplicates would show twice)."""
    return [
        (d["service"], d["version"], d["environment"])
        for d in await SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)).deployments()
    ]


def duplicates(rows: list[Any]) -> int:
    return sum(n - 1 for n in Counter(rows).values() if n > 1)


async def all_threads(redis: Redis) -> list[Thread]:
    store = ThreadStore(redis)
    loaded = [await store.load(t) for t in await store.thread_ids()]
    return [t for t in loaded if t is not None]


def decisions(thread: Thread) -> list[ApprovalDecision]:
    return [e for e in thread.events if isinstance(e, ApprovalDecision)]


async def pending_jobs(redis: Redis) -> int:
    return int((await redis.xpending(keys.jobs(), keys.JOBS_GROUP))["pending"])


async def dead_jobs(redis: Redis) -> int:
    return int(await redis.xlen(keys.dead_jobs()))
