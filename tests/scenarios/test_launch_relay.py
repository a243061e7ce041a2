"""A caller that launches a request through the API cannot approve it too (issue 12, item 6),
through the real HTTP app with real Redis: whoever the approval names, a token that asked for
the call may only withdraw it; another token, or a person in Slack, decides."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from agents.runtime.audit import AuditLog
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, BotProcess, MakeBot
from tests.support import approval_message, cli_env, deployments, hitl, shown_text

BOTH = "both-secret-0123456789abcdef"
OPS = "ops-secret-0123456789abcdef"
TOKENS = f"both={BOTH}:launch+respond+read,ops={OPS}:respond+read"
LEGACY = "legacy-all-scopes"
PRODUCTION = {"text": "deploy api 1.4.2 to production", "channel": DEPLOYS, "user": ALICE}


def api(bot: BotProcess, secret: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{bot.server.url}/api",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )


async def launch(bot: BotProcess, secret: str) -> str:
    async with api(bot, secret) as client:
        launched = await client.post("/threads", json=PRODUCTION)
    assert launched.status_code == 202, launched.text
    await bot.settle()
    thread_id: str = launched.json()["thread_id"]
    return thread_id


async def approve(bot: BotProcess, secret: str, thread_id: str, user: str) -> None:
    async with api(bot, secret) as client:
        answer = await client.post(
            f"/threads/{thread_id}/respond", json={"user": user, "approved": True}
        )
    assert answer.status_code == 202, answer.text
    await bot.settle()


async def test_the_launching_token_cannot_approve_as_anyone_but_another_token_can(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    thread_id = await launch(bot, BOTH)
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    assert "via API token both" in root.text
    card = approval_message(slack, DEPLOYS, root.ts)
    assert f"Requested by <@{ALICE}> via API token both" in shown_text(card)

    for user in (BOB, CAROL):
        await approve(bot, BOTH, thread_id, user)
        told = slack.ephemerals[-1]
        assert told.user == user
        assert "API token both asked for this, so it cannot approve it" in told.text
    assert await deployments(redis) == []

    async with api(bot, BOTH) as both:
        events = (await both.get(f"/threads/{thread_id}")).json()["events"]
    assert events[0]["type"] == "user_message" and events[0]["via"] == "API token both"
    shown = await hitl("threads", "show", thread_id, environ=cli_env(redis_server))
    out, _ = await shown.communicate()
    assert f"{ALICE} via API token both: deploy api 1.4.2" in out.decode()
    audited = [e async for e in AuditLog(redis).entries() if e["type"] == "tool_call"]
    assert [(e["actor"], e.get("via")) for e in audited] == [(ALICE, "API token both")]

    await approve(bot, OPS, thread_id, BOB)
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_the_all_scope_token_cannot_approve_its_own_launch_but_may_withdraw_it(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=LEGACY)
    thread_id = await launch(bot, LEGACY)
    await approve(bot, LEGACY, thread_id, BOB)
    assert await deployments(redis) == []
    assert "API token default asked for this" in slack.ephemerals[-1].text

    async with api(bot, LEGACY) as legacy:
        withdrawn = await legacy.post(
            f"/threads/{thread_id}/respond",
            json={"user": ALICE, "approved": False, "reason": "wrong version"},
        )
        assert withdrawn.status_code == 202
        await bot.settle()
        events = (await legacy.get(f"/threads/{thread_id}")).json()["events"]
    (decision,) = [e for e in events if e["type"] == "approval_decision"]
    assert (decision["approved"], decision["user"]) == (False, ALICE)
    assert await deployments(redis) == []


async def test_a_person_in_slack_approves_a_request_launched_through_the_api(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=LEGACY)
    await launch(bot, LEGACY)
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    card = approval_message(slack, DEPLOYS, root.ts)
    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
