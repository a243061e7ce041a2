"""Launch, inspect, pause, resume, stop and answer threads from outside Slack: the HTTP API and
`hitl threads ...`, with the results seen in Slack."""

from __future__ import annotations

import asyncio
import copy
import os
import sys
from datetime import timedelta
from typing import Any

import httpx
from openapi_spec_validator import validate
from redis.asyncio import Redis

from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from agents.runtime.store import thread_id_for
from agents.runtime.thread import SlackOrigin
from bot.api import openapi_schema
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, BOT_TOKEN, DEPLOYS, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    mention,
    shown_text,
)

TOKEN = "test-api-token"
OPS = "ops-secret-0123456789abcdef"


def api(bot: BotProcess, token: str | None = TOKEN) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=f"{bot.server.url}/api", headers=headers)


async def test_the_api_needs_its_token(make_bot: MakeBot) -> None:
    off = await make_bot()
    async with api(off) as client:
        assert (await client.get("/threads")).status_code == 503
    on = await make_bot(hitl_api_token=TOKEN)
    async with api(on, token="wrong") as client:
        assert (await client.get("/threads")).status_code == 401
    async with api(on, token=None) as client:
        assert (await client.get("/threads")).status_code == 401
    async with api(on) as client:
        assert (await client.get("/threads")).json() == []


async def test_a_ci_webhook_launches_a_run_and_answers_its_approval(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    # The token that launches may not approve too, so the approval comes through another one.
    bot = await make_bot(hitl_api_token=TOKEN, hitl_api_tokens=f"ops={OPS}:respond+read")
    async with api(bot) as client:
        launched = await client.post(
            "/threads",
            json={"text": "deploy api 1.4.2 to production", "channel": DEPLOYS, "user": ALICE},
        )
        assert launched.status_code == 202
        thread_id = launched.json()["thread_id"]
        await bot.settle()

        (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
        assert f"<@{ALICE}> (via API token default): deploy api 1.4.2" in root.text
        assert approval_message(slack, DEPLOYS, root.ts)
        detail = (await client.get(f"/threads/{thread_id}")).json()
        assert detail["status"] == "waiting_approval"
        assert detail["open_request"]["intent"] == "request_approval"

        own = await client.post(
            f"/threads/{thread_id}/respond", json={"user": ALICE, "approved": True}
        )
        assert own.status_code == 202  # accepted, then refused by policy like a click
        await bot.settle()
        assert await deployments(redis) == []

        async with api(bot, token=OPS) as ops:
            answered = await ops.post(
                f"/threads/{thread_id}/respond", json={"user": BOB, "approved": True}
            )
        assert answered.status_code == 202
        await bot.settle()
        assert await deployments(redis) == [("api", "1.4.2", "production")]
        assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "done"
        assert [t["id"] for t in (await client.get("/threads")).json()] == [thread_id]


async def test_a_paused_thread_ignores_clicks_and_says_so_until_resumed(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    approval = approval_message(slack, DEPLOYS, root)
    async with api(bot) as client:
        assert (
            await client.post(f"/threads/{thread_id}/pause", json={"by": "ops"})
        ).status_code == 202
        await bot.settle()
        assert "Paused by `ops`" in bot_replies(slack, DEPLOYS, root)[-1].text

        await slack.click(user=BOB, message=approval, action_id="hitl_approve")
        await bot.settle()
        assert await deployments(redis) == []
        assert slack.ephemerals[-1].user == BOB and "paused" in slack.ephemerals[-1].text
        assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "paused"

        assert (
            await client.post(f"/threads/{thread_id}/resume", json={"by": BOB})
        ).status_code == 202
        await bot.settle()
        assert f"Resumed by <@{BOB}>" in bot_replies(slack, DEPLOYS, root)[-1].text
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_stop_cancels_the_open_request_for_good(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    approval = approval_message(slack, DEPLOYS, root)
    stale = copy.deepcopy(approval)  # as a client that has not refreshed shows it

    out = await hitl(
        "threads",
        "stop",
        thread_id,
        "--by",
        "ops",
        "--reason",
        "wrong ticket",
        redis_url=redis_server,
    )
    assert f"stop queued for thread {thread_id}" in out
    await bot.settle()

    cancelled = slack.find_message(DEPLOYS, approval.ts)
    assert not has_buttons(cancelled) and "Cancelled" in shown_text(cancelled)
    assert "Stopped by `ops`: wrong ticket" in bot_replies(slack, DEPLOYS, root)[-1].text
    await slack.click(user=BOB, message=stale, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [] and "Cancelled" in slack.ephemerals[-1].text
    assert await Deadlines(redis).fire_due(utcnow() + timedelta(days=2)) == 0
    async with api(bot) as client:
        assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "stopped"
        resumed = await client.post(f"/threads/{thread_id}/resume")
        await bot.settle()
        assert resumed.status_code == 202
        assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "stopped"


async def test_bad_requests_get_clear_errors_and_change_nothing(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    root = await mention(slack, "deploy web 2.0.1 to staging")
    await bot.settle()
    done = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", "/threads", "not json", 400, "not JSON"),
        ("POST", "/threads", {"text": "deploy"}, 422, "channel"),
        ("POST", "/threads", {"text": "x", "channel": "#deploys"}, 422, "channel"),
        ("POST", "/threads", {"text": "x", "channel": "C0NOPE"}, 502, "channel_not_found"),
        ("GET", "/threads/t000", None, 404, "no thread"),
        ("POST", "/threads/t000/pause", None, 404, "no thread"),
        ("POST", f"/threads/{done}/explode", None, 404, "no action"),
        ("POST", f"/threads/{done}/respond", {"user": BOB, "approved": True}, 409, "not waiting"),
        ("POST", f"/threads/{done}/respond", {"user": BOB, "approved": False}, 422, "reason"),
        ("POST", f"/threads/{done}/respond", {"user": "bob", "text": "hi"}, 422, "user"),
    ]
    async with api(bot) as client:
        for method, path, body, status, says in cases:
            content = body if isinstance(body, str) else None
            payload = None if isinstance(body, str) else body
            response = await client.request(method, path, content=content, json=payload)
            assert (response.status_code, says in response.text) == (status, True), (
                path,
                response.text,
            )
    assert await bot.settle() == 0


async def test_the_openapi_schema_is_valid_and_served() -> None:
    schema = openapi_schema()
    validate(schema)
    assert set(schema["paths"]) >= {"/api/threads", "/api/threads/{thread_id}/pause"}


async def hitl(*args: str, redis_url: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITL_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env | {"REDIS_URL": redis_url, "SLACK_BOT_TOKEN": BOT_TOKEN},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()
