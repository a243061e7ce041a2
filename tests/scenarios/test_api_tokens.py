"""Attacks on the HTTP surface (issue 12, item 6), through the real HTTP app with real Redis:
one token may not launch a production deploy and approve it; `"yes"` is not true; nesting
bombs and huge bodies are a 400; a Redis outage is a 503 that names no host or port."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from bot.emulator.server import SlackEmulator
from bot.serving import free_port
from tests.conftest import ALICE, BOB, DEPLOYS, BotProcess, MakeBot
from tests.redis_servers import redis_process
from tests.support import approval_message, cli_env, deployments, hitl, shown_text

CI = "ci-secret-0123456789abcdef"
OPS = "ops-secret:with=odd-0123456789"  # `:` and `=` may appear in a secret
READER = "reader-secret-0123456789"
CONTROLLER = "controller-secret-0123456789"
TOKENS = (
    f"ci={CI}:launch+read,ops={OPS}:respond+read,reader={READER}:read,oncall={CONTROLLER}:control"
)
LEGACY = "legacy-all-scopes"  # HITL_API_TOKEN: one token, every scope
PRODUCTION = {"text": "deploy api 1.4.2 to production", "channel": DEPLOYS, "user": ALICE}


def api(bot: BotProcess, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{bot.server.url}/api",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )


async def launch_production(bot: BotProcess) -> str:
    async with api(bot, CI) as ci:
        launched = await ci.post("/threads", json=PRODUCTION)
    assert launched.status_code == 202, launched.text
    await bot.settle()
    thread_id: str = launched.json()["thread_id"]
    return thread_id


async def test_a_launch_token_cannot_approve_the_deploy_it_launched(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    thread_id = await launch_production(bot)
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    assert approval_message(slack, DEPLOYS, root.ts)

    async with api(bot, CI) as ci:
        approve = await ci.post(
            f"/threads/{thread_id}/respond", json={"user": BOB, "approved": True}
        )
        assert approve.status_code == 403
        assert approve.json()["missing_scope"] == "respond"
        assert "API token ci lacks the `respond` scope" in approve.text
        assert (await ci.get(f"/threads/{thread_id}")).status_code == 200
    assert await bot.settle() == 0
    assert await deployments(redis) == []

    async with api(bot, OPS) as ops:
        relaunch = await ops.post("/threads", json=PRODUCTION)
        assert (relaunch.status_code, relaunch.json()["missing_scope"]) == (403, "launch")
        pause = await ops.post(f"/threads/{thread_id}/pause")
        assert (pause.status_code, pause.json()["missing_scope"]) == (403, "control")
        approved = await ops.post(
            f"/threads/{thread_id}/respond", json={"user": BOB, "approved": True}
        )
        assert approved.status_code == 202
        await bot.settle()
        assert await deployments(redis) == [("api", "1.4.2", "production")]
        (decision,) = [
            e
            for e in (await ops.get(f"/threads/{thread_id}")).json()["events"]
            if e["type"] == "approval_decision"
        ]
    # Policy judged the Slack user; the token is who relayed it.
    assert decision["user"] == BOB


async def test_a_decision_through_the_api_shows_the_token_that_relayed_it(
    slack: SlackEmulator, make_bot: MakeBot, redis_server: str
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    thread_id = await launch_production(bot)
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    card_ts = approval_message(slack, DEPLOYS, root.ts).ts
    async with api(bot, OPS) as ops:
        await ops.post(f"/threads/{thread_id}/respond", json={"user": BOB, "approved": True})
        await bot.settle()
        events = (await ops.get(f"/threads/{thread_id}")).json()["events"]
    (decision,) = [e for e in events if e["type"] == "approval_decision"]
    assert (decision["user"], decision["via"]) == (BOB, "API token ops")
    card = slack.find_message(DEPLOYS, card_ts)
    assert f"Approved via API token ops for <@{BOB}>" in shown_text(card)
    shown = await hitl("threads", "show", thread_id, environ=cli_env(redis_server))
    out, _ = await shown.communicate()
    assert f"via API token ops for {BOB}" in out.decode()


async def test_scopes_decide_what_each_token_may_do(make_bot: MakeBot) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS, hitl_api_token=LEGACY)
    thread_id = await launch_production(bot)
    async with api(bot, READER) as reader:
        assert (await reader.get("/threads")).status_code == 200
        assert (await reader.get(f"/threads/{thread_id}")).status_code == 200
        for path, scope in [
            ("/threads", "launch"),
            (f"/threads/{thread_id}/respond", "respond"),
            (f"/threads/{thread_id}/stop", "control"),
        ]:
            refused = await reader.post(path, json={})
            assert (refused.status_code, refused.json()["missing_scope"]) == (403, scope), path
    async with api(bot, CONTROLLER) as oncall:
        assert (await oncall.get("/threads")).json()["missing_scope"] == "read"
        assert (await oncall.post(f"/threads/{thread_id}/pause")).status_code == 202
    async with api(bot, LEGACY) as legacy:  # HITL_API_TOKEN: every scope
        assert (await legacy.post(f"/threads/{thread_id}/resume")).status_code == 202
        assert (await legacy.get("/threads")).status_code == 200
    async with api(bot, CI[:-1]) as wrong:
        assert (await wrong.get("/threads")).status_code == 401
    assert await bot.settle() == 2


async def test_junk_types_are_refused_with_the_field_named_and_decide_nothing(
    make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=LEGACY)
    thread_id = await launch_production_as(bot, LEGACY)
    respond = f"/threads/{thread_id}/respond"
    async with api(bot, LEGACY) as ops:
        for junk, field in [
            ({"user": BOB, "approved": "yes"}, "approved"),
            ({"user": BOB, "approved": 1}, "approved"),
            ({"user": BOB, "approved": "true"}, "approved"),
            ({"user": BOB, "text": 42}, "text"),
            ({"user": ["U0BOB"], "approved": True}, "user"),
        ]:
            refused = await ops.post(respond, json=junk)
            assert refused.status_code == 422, (junk, refused.text)
            assert field in [d["field"] for d in refused.json()["details"]], refused.text
    async with api(bot, LEGACY) as ci:
        refused = await ci.post("/threads", json=PRODUCTION | {"text": ["deploy"]})
        assert refused.status_code == 422 and "text" in refused.text
    assert await bot.settle() == 0
    assert await deployments(redis) == []


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b'{"user": "U0BOB", "text": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"user": "U0BOB", "text": "' + b"x" * (65 * 1024) + b'"}',
    ],
    ids=["lists", "objects", "inside-a-field", "over-64-KiB"],
)
async def test_nesting_bombs_and_huge_bodies_are_a_400(make_bot: MakeBot, body: bytes) -> None:
    bot = await make_bot(hitl_api_token=LEGACY)
    thread_id = await launch_production_as(bot, LEGACY)
    async with api(bot, LEGACY) as client:
        for path in ["/threads", f"/threads/{thread_id}/respond", f"/threads/{thread_id}/stop"]:
            answer = await client.post(path, content=body)
            assert answer.status_code == 400, (path, answer.status_code, answer.text[:200])
            assert "not JSON" in answer.text or "64 KiB" in answer.text
        assert (await client.get(f"/threads/{thread_id}")).json()["status"] == "waiting_approval"
    assert await bot.settle() == 0


async def launch_production_as(bot: BotProcess, secret: str) -> str:
    async with api(bot, secret) as client:
        launched = await client.post("/threads", json=PRODUCTION)
    await bot.settle()
    thread_id: str = launched.json()["thread_id"]
    return thread_id


async def test_a_redis_outage_is_a_503_that_names_no_host_or_port(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    port = free_port()
    with redis_process(tmp_path, "--appendonly", "no", port=port):
        bot = await make_bot(redis_url=f"redis://127.0.0.1:{port}/0", hitl_api_token=LEGACY)
        async with api(bot, LEGACY) as client:
            assert (await client.get(f"{bot.server.url}/metrics")).status_code == 200
    async with api(bot, LEGACY) as client:
        metrics = await client.get(f"{bot.server.url}/metrics")
        health = await client.get(f"{bot.server.url}/healthz")
        threads = await client.get("/threads")
    for answer in (metrics, health, threads):
        assert answer.status_code == 503, (answer.request.url, answer.text[:300])
        assert "127.0.0.1" not in answer.text and str(port) not in answer.text
        assert "redis" in answer.text.lower()
    assert metrics.text == "redis unreachable\n"
    assert health.json() == {"ok": False, "redis": "unreachable"}
