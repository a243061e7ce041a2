"""1. Ack latency for a burst of signed Events API deliveries: our HTTP app (Bolt listeners that
convert and enqueue on Redis, dedupe included) against a bare Bolt `AsyncApp` whose listener only
acks, both behind the same Starlette adapter on uvicorn, each served in a process of its own
(bench/ack_server.py) while this process sends.

Each event is a distinct `app_mention` in Slack's shape (the emulator's payload builders), signed
with the signing secret and sent open-loop at a fixed rate over one keep-alive HTTP client, so a
slow answer does not slow the senders. No worker runs during the burst: this is the ack path.

Both apps run at once and the requests alternate between them: a pair every `1 / rate` s, its
two requests half a period apart, the first of each pair taking turns, so a stall of the host
falls on both alike. After a warm-up burst, several runs; a run's figure per app is its
nearest-rank percentile, the table shows the median run and the range of the runs, and the
ratio is taken run by run."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from redis.asyncio import Redis
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agents.runtime import keys
from bench.common import (
    ALICE,
    BOT_TOKEN,
    DEPLOYS,
    SIGNING_SECRET,
    Row,
    Spread,
    emulator,
    percentile,
    redis_url,
)
from bot.emulator.payloads import event_callback, rich_text, user_event
from bot.emulator.server import SlackEmulator
from bot.emulator.state import Message

TARGET = 1.2
RETRIES = 3


def bare_app(slack_api_url: str) -> Starlette:
    """What a user would start from: Bolt, one listener that acks, the Starlette adapter."""
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
    )

    @bolt.event("app_mention")
    async def on_mention(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def bodies(slack: SlackEmulator, count: int, tag: str) -> list[str]:
    """`count` distinct signed-to-be mentions, as the emulator would deliver them."""
    ws = slack.workspace
    mention = f"<@{slack.identity.bot_user_id}>"
    out = []
    for i in range(count):
        text = f"{mention} deploy api 1.{i}.0 to production ({tag})"
        msg = Message(DEPLOYS, ws.next_ts(), text, [rich_text(text, ws.next_id("rt"))], None, ALICE)
        ws.messages.append(msg)
        out.append(json.dumps(event_callback(ws, user_event(ws, "app_mention", msg))))
    return out


Sent = tuple[str, str]
"""A request to send: the events URL of one app, and the body."""


def _client() -> httpx.AsyncClient:
    # At most 100 connections: httpcore's pool does work in the number of connections for each
    # request, so a larger pool makes the sender itself the bottleneck on a busy host. Idle
    # connections are dropped well before uvicorn's 5 s keep-alive timeout, so none is reused
    # just as the server closes it. A request may wait up to 60 s: on a host busy with other
    # work a backlog can build up, and then the latencies should say so, not the sender fail.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=1.0)
    return httpx.AsyncClient(timeout=60, limits=limits)


async def _send_all(
    client: httpx.AsyncClient, sends: list[Sent], times: list[float], retried: list[str]
) -> list[float]:
    """Send each request signed at its time (`time.perf_counter()`), open loop: a slow answer
    does not slow the others. The latency of each answer, in ms, in order; the URL of each
    request sent again after a transport error is appended to `retried`."""
    verifier = SignatureVerifier(SIGNING_SECRET)

    async def send(sent: Sent, at: float) -> float:
        url, body = sent
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body) or "",
        }
        started = time.perf_counter()
        for attempt in range(1, RETRIES + 1):
            # A connection the busy host reset is sent again, as Slack would; the time counts
            # from the first attempt, and ours takes the repeat as the duplicate it is.
            try:
                response = await client.post(url, content=body.encode(), headers=headers)
                break
            except httpx.TransportError:
                if attempt == RETRIES:
                    raise
                retried.append(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.text
        return elapsed

    return list(await asyncio.gather(*(send(s, at) for s, at in zip(sends, times, strict=True))))


async def burst(url: str, payloads: list[str], rate: float) -> list[float]:
    """Send every payload to one app at `rate`/s (open loop); the latency of each answer, ms."""
    async with _client() as client:
        sends = [(url, body) for body in payloads]
        t0 = time.perf_counter() + 0.05
        return await _send_all(client, sends, [t0 + i / rate for i in range(len(payloads))], [])


async def alternated(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    pairs: list[tuple[Sent, Sent]],
    rate: float,
    retried: list[str],
) -> tuple[list[float], list[float]]:
    """Send each pair's two requests `1 / (2 * rate)` s apart, a pair every `1 / rate` s, the
    first of each pair alternating between the pair's two sides, each side over its own client
    (httpcore's pool work grows with the requests waiting for another origin's connections).
    Each side's latencies, in ms."""
    t0 = time.perf_counter() + 0.05
    a_sends = [a for a, _ in pairs]
    b_sends = [b for _, b in pairs]
    # Even pairs: a first, b half a period later; odd pairs: b first.
    a_at = [t0 + (i + (0 if i % 2 == 0 else 0.5)) / rate for i in range(len(pairs))]
    b_at = [t0 + (i + (0.5 if i % 2 == 0 else 0)) / rate for i in range(len(pairs))]
    a_ms, b_ms = await asyncio.gather(
        _send_all(clients[0], a_sends, a_at, retried), _send_all(clients[1], b_sends, b_at, retried)
    )
    return a_ms, b_ms


@asynccontextmanager
async def serving(which: str, url: str, slack_api_url: str) -> AsyncIterator[str]:
    """The `which` app in a process of its own; yields its events URL."""
    command = [sys.executable, "-m", "bench.ack_server", which, url, slack_api_url]
    server = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        base = (await asyncio.wait_for(server.stdout.readline(), timeout=60)).decode().strip()
        yield f"{base}/slack/events"
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), timeout=30)


WARMUP = 50


async def measure(
    slack: SlackEmulator, url: str, *, events: int, rate: float, runs: int, retried: list[str]
) -> dict[str, list[list[float]]]:
    """Both apps served at once; after a warm-up, `runs` bursts of `events` requests per app,
    alternated request by request. Each run's latencies per app, in ms; requests sent again
    (their app's URL) are appended to `retried`."""
    got: dict[str, list[list[float]]] = {"bare": [], "ours": []}
    async with (
        serving("bare", url, slack.api_url) as bare,
        serving("ours", url, slack.api_url) as ours,
        _client() as bare_client,  # one per app for all runs: the warm-up opens connections
        _client() as ours_client,
    ):
        for run in range(runs + 1):  # run 0 warms up: connections, auth.test, caches
            size = WARMUP if run == 0 else events
            pairs = list(
                zip(
                    ((bare, body) for body in bodies(slack, size, f"bare {run}")),
                    ((ours, body) for body in bodies(slack, size, f"ours {run}")),
                    strict=True,
                )
            )
            gc.collect()
            gc.freeze()  # the sender's own garbage collection would show up as server latency
            try:
                bare_ms, ours_ms = await alternated(
                    (bare_client, ours_client), pairs, rate, retried
                )
            finally:
                gc.unfreeze()
            if run > 0:
                got["bare"].append(bare_ms)
                got["ours"].append(ours_ms)
    return got


async def run(*, events: int, rate: float, runs: int) -> list[Row]:
    """`runs` runs of `events` requests per app at `rate` per second per app."""
    with redis_url() as url:
        async with emulator() as slack:
            retried: list[str] = []
            got = await measure(slack, url, events=events, rate=rate, runs=runs, retried=retried)
            redis = Redis.from_url(url)
            queued = await redis.xlen(keys.jobs())
            await redis.aclose()
    assert queued == WARMUP + events * runs, queued  # every event was taken in, none dropped
    rows = []
    for p in (50, 99):
        ours = Spread(tuple(percentile(r, p) for r in got["ours"]))
        bare = Spread(tuple(percentile(r, p) for r in got["bare"]))
        ratio = Spread(tuple(o / b for o, b in zip(ours.runs, bare.runs, strict=True)))
        rows.append(
            Row(
                figure=f"Ack latency p{p} (median of {runs} runs × {events:,} events at "
                f"{rate:.0f}/s per app, alternated)",
                ours=ours.cell(),
                baseline=f"{bare.cell()} bare Bolt",
                ratio=ratio.cell("×"),
                target=f"≤ {TARGET}× bare Bolt" if p == 99 else "—",
                met=ratio.mid <= TARGET if p == 99 else None,
                note="signed app_mention → verify → listener → 200; ours also dedupes+enqueues"
                + (f"; {len(retried)} request(s) sent again after a reset" if retried else ""),
                durability="ours: Redis no persistence; bare Bolt stores nothing",
                values={
                    "unit": "ms",
                    "ours": list(ours.runs),
                    "bare": list(bare.runs),
                    "sent_again": len(retried),
                },
            )
        )
    return rows
