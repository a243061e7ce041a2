"""1. Ack latency for a burst of signed Events API deliveries: our HTTP app (Bolt listeners that
convert and enqueue on Redis, dedupe included) against a bare Bolt `AsyncApp` whose listener only
acks, both behind the same Starlette adapter on uvicorn, each served in a process of its own
(bench/ack_server.py) while this process sends.

Each event is a distinct `app_mention` in Slack's shape (the emulator's payload builders), signed
with the signing secret and sent open-loop at a fixed rate over one keep-alive HTTP client, so a
slow answer does not slow the senders. No worker runs during the burst: this is the ack path."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
import time

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

from bench.common import (
    ALICE,
    BOT_TOKEN,
    DEPLOYS,
    SIGNING_SECRET,
    Row,
    emulator,
    percentile,
    redis_url,
)
from bot.emulator.payloads import event_callback, rich_text, user_event
from bot.emulator.server import SlackEmulator
from bot.emulator.state import Message

TARGET = 1.5


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


async def burst(url: str, payloads: list[str], rate: float) -> list[float]:
    """Send every payload at `rate`/s (open loop); the latency of each answer, in ms."""
    verifier = SignatureVerifier(SIGNING_SECRET)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def send(body: str, at: float) -> float:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body) or "",
            }
            started = time.perf_counter()
            response = await client.post(url, content=body.encode(), headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.text
            return elapsed

        t0 = time.perf_counter() + 0.05
        return list(await asyncio.gather(*(send(b, t0 + i / rate) for i, b in enumerate(payloads))))


async def measure(
    which: str, url: str, slack_api_url: str, payloads: list[str], rate: float
) -> list[float]:
    """Start the `which` app in its own process, warm it up, then time the burst."""
    command = [sys.executable, "-m", "bench.ack_server", which, url, slack_api_url]
    server = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    try:
        assert server.stdout is not None
        base = (await asyncio.wait_for(server.stdout.readline(), timeout=60)).decode().strip()
        events_url = f"{base}/slack/events"
        await burst(events_url, payloads[:50], rate)  # warm-up: connections, auth.test
        gc.collect()
        gc.freeze()  # the sender's own garbage collection would show up as server latency
        try:
            return await burst(events_url, payloads[50:], rate)
        finally:
            gc.unfreeze()
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), timeout=30)


async def run(*, events: int, rate: float) -> list[Row]:
    with redis_url() as url:
        async with emulator() as slack:
            half = events // 2
            got: dict[str, list[float]] = {"bare": [], "ours": []}
            # Order A B B A, half the events each time, so neither side gets the quieter
            # moment of the run.
            for round_, which in enumerate(("bare", "ours", "ours", "bare")):
                size = half if round_ < 2 else events - half
                payloads = bodies(slack, size + 50, str(round_))
                got[which] += await measure(which, url, slack.api_url, payloads, rate)
            redis = Redis.from_url(url)
            queued = await redis.xlen("hitl:{jobs}")
            await redis.aclose()
            assert queued == events + 100, queued  # every event was taken in, none dropped
            ours, bare = got["ours"], got["bare"]
    rows = []
    for p in (50, 99):
        o, b = percentile(ours, p), percentile(bare, p)
        rows.append(
            Row(
                figure=f"Ack latency p{p} ({events:,} events at {rate:.0f}/s)",
                ours=f"{o:.2f} ms",
                baseline=f"{b:.2f} ms (bare Bolt)",
                ratio=f"{o / b:.2f}×",
                target="≤ 1.5× bare Bolt" if p == 99 else "—",
                met=o / b <= TARGET if p == 99 else None,
                note="signed app_mention → verify → listener → 200; ours also dedupes+enqueues",
            )
        )
    return rows
