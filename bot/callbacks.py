"""Decision webhooks of the requests API, delivered through the outbox.

`CallbackNotifier` wraps the Slack notifier. Once a request is settled (approved, rejected,
answered, expired or cancelled) and its thread's last message is delivered, it POSTs the request as
`GET /api/requests/{id}` shows it to the request's `callback_url`, signed like tool webhooks
(tools/webhook.py: `X-Hitl-Timestamp`, `X-Hitl-Signature: sha256=<HMAC of "{ts}.{body}">`,
keyed with HITL_CALLBACK_SECRET) with `X-Hitl-Delivery: <request id>` (the same on every try, so
the receiver can drop a repeat). A failure (no answer, a non-2xx) raises `DeliveryDeferred`: the
outbox keeps its cursor and tries again with backoff (1 s, 2 s, 4 s...). After the last try the
webhook is recorded failed: an `Error(scope="delivery")` event (`hitl threads show`) and the
`hitl_callback_deliveries{outcome="failed"}` metric. A `sent` or `failed` mark in Redis makes it
at most once per request, whoever delivers it."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

import httpx
from prometheus_client import Counter
from redis.asyncio import Redis

from agents.requests import NAME, RequestView, spec_of, status_of
from agents.runtime import keys
from agents.runtime.metrics import Metrics
from agents.runtime.thread import Status, Thread
from agents.runtime.types import DeliveryDeferred, Notifier, Tell
from bot.requests_api import RequestViews
from tools.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger(__name__)

DELIVERY_HEADER = "X-Hitl-Delivery"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class CallbackNotifier:
    """A Notifier: the Slack notifier's deliveries, then a request's decision webhook when the
    delivered event settles it."""

    def __init__(
        self,
        inner: Notifier,
        *,
        redis: Redis,
        http: httpx.AsyncClient,
        secret: str | None,
        attempts: int,
        views: RequestViews,
        metrics: Metrics,
    ) -> None:
        self._inner = inner
        self._redis = redis
        self._http = http
        self._secret = secret
        self._attempts = attempts
        self._views = views
        self._outcomes = Counter(
            "hitl_callback_deliveries",
            "Decision webhook tries of the requests API, by outcome (sent, retried, failed)",
            ["outcome"],
            registry=metrics.registry,
        )

    async def deliver(self, thread: Thread, index: int) -> list[str]:
        refused = await self._inner.deliver(thread, index)
        if thread.agent == NAME and _finishes(thread, index):
            refused += await self._callback(thread)
        return refused

    async def tell(self, thread: Thread, tell: Tell) -> list[str]:
        return await self._inner.tell(thread, tell)

    async def working(self, thread: Thread, busy: bool) -> None:
        await self._inner.working(thread, busy)

    async def _callback(self, thread: Thread) -> list[str]:
        spec = spec_of(thread)
        url = spec.callback_url if spec else None
        key = keys.callback(thread.id)
        if url is None or await self._redis.hget(key, "state") is not None:
            return []
        shown = await self._views.of(thread)
        assert shown is not None
        problem = await self._post(url, thread.id, shown)
        if problem is None:
            await self._mark(key, "sent")
            self._outcomes.labels("sent").inc()
            return []
        tries = int(await self._redis.hincrby(key, "attempts", 1))
        await self._redis.expire(key, keys.THREAD_TTL)
        if tries < self._attempts:
            self._outcomes.labels("retried").inc()
            raise DeliveryDeferred(f"decision webhook: {problem}")
        await self._mark(key, "failed")
        self._outcomes.labels("failed").inc()
        host = urlsplit(url).hostname
        return [f"decision webhook to {host} failed after {tries} tries: {problem}"]

    async def _post(self, url: str, request_id: str, shown: RequestView) -> str | None:
        """None when the receiver took it (2xx); else what went wrong, compactly."""
        body = json.dumps(shown.model_dump(mode="json"), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret or "", timestamp, body),
            DELIVERY_HEADER: request_id,
        }
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__})"
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"

    async def _mark(self, key: str, state: str) -> None:
        await self._redis.hset(key, "state", state)
        await self._redis.expire(key, keys.THREAD_TTL)


def _finishes(thread: Thread, index: int) -> bool:
    """Whether event `index` is the last of a settled request that has run its course: its
    webhook goes out after every message of the thread, so a receiver that is down (and
    retried) holds back no message a person must see."""
    return (
        index == len(thread.events) - 1
        and thread.status in (Status.DONE, Status.STOPPED)
        and status_of(thread) != "waiting"
    )
