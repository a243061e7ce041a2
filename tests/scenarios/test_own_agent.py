"""The example agent of docs/agents.md (tests/examples/flags.py), built by following the guide
alone and loaded through `HITL_AGENTS` like any team's own agent: end to end through the real
Bolt app, the real Slack client against the emulator, and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, DEPLOYS, MakeBot
from tests.examples.flag_tools import FLAG_TOOLS
from tests.support import (
    approval_message,
    bot_replies,
    has_buttons,
    mention,
    reject,
    shown_text,
)
from tests.tools.fake_servers import SECRET, FakeWebhook

AGENTS = ("deploy", "access", "incident", "tests.examples.flags")


async def recorded(redis: Redis) -> list[bytes]:
    """Every flag change the simulated adapter recorded."""
    return list(await redis.hvals(simulated_store(redis, FLAG_TOOLS).key))


@pytest.fixture
async def webhook() -> AsyncIterator[FakeWebhook]:
    fake = FakeWebhook()
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_production_flag_change_is_approved_then_made_once(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_agents=AGENTS)
    root = await mention(slack, "turn new-checkout on in production")
    await bot.settle()

    card = approval_message(slack, DEPLOYS, root)
    assert "Turn new-checkout on in production" in shown_text(card)
    assert await recorded(redis) == []
    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert not has_buttons(slack.find_message(DEPLOYS, card.ts))  # decided: no second click

    assert len(await recorded(redis)) == 1
    assert "Turned new-checkout on in production" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_a_staging_flag_change_runs_at_once_without_a_card(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_agents=AGENTS)
    root = await mention(slack, "turn new-checkout off in staging")
    await bot.settle()

    replies = bot_replies(slack, DEPLOYS, root)
    assert not any(has_buttons(message) for message in replies)
    assert len(await recorded(redis)) == 1
    assert "Turned new-checkout off in staging" in replies[-1].text


async def test_a_rejected_flag_change_records_nothing_and_says_why(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_agents=AGENTS)
    root = await mention(slack, "turn new-checkout on in production")
    await bot.settle()

    card = approval_message(slack, DEPLOYS, root)
    await reject(slack, user=BOB, message=card, reason="checkout freeze this week")
    await bot.settle()

    assert await recorded(redis) == []
    last = bot_replies(slack, DEPLOYS, root)[-1].text
    assert "no flag changed" in last and "checkout freeze this week" in last


async def test_the_requester_cannot_approve_their_own_production_change(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    # ALICE may approve in general, but not her own request.
    bot = await make_bot(hitl_agents=AGENTS, approvers=frozenset({ALICE, BOB}))
    root = await mention(slack, "turn new-checkout on in production", user=ALICE)
    await bot.settle()

    card = approval_message(slack, DEPLOYS, root)
    await slack.click(user=ALICE, message=card, action_id="hitl_approve")
    await bot.settle()

    refusal = slack.ephemerals[-1]
    assert refusal.user == ALICE and "nobody approves their own request" in refusal.text
    assert await recorded(redis) == []

    # The card still waits; an allowed person's approval runs that exact call.
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert len(await recorded(redis)) == 1


async def test_flags_lists_the_state_and_an_unknown_mention_gets_help(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_agents=AGENTS)
    changed = await mention(slack, "turn new-checkout off in staging")
    await bot.settle()
    assert "Turned new-checkout off" in bot_replies(slack, DEPLOYS, changed)[-1].text

    listed = await mention(slack, "flags")
    await bot.settle()
    assert bot_replies(slack, DEPLOYS, listed)[-1].text == "Flags: new-checkout@staging: off."

    unknown = await mention(slack, "make me a sandwich")
    await bot.settle()
    help_text = bot_replies(slack, DEPLOYS, unknown)[-1].text
    assert "turn a feature flag on or off, or list the flags" in help_text
    assert "turn new-checkout on in production" in help_text


async def test_with_a_webhook_configured_the_change_goes_to_the_webhook(
    webhook: FakeWebhook,
    slack: SlackEmulator,
    make_bot: MakeBot,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A family of your own reads HITL_<NAME>_WEBHOOK_* from the environment.
    monkeypatch.setenv("HITL_FLAGS_WEBHOOK_URL", f"{webhook.url}/hook")
    monkeypatch.setenv("HITL_FLAGS_WEBHOOK_SECRET", SECRET)
    bot = await make_bot(hitl_agents=AGENTS)
    root = await mention(slack, "turn new-checkout on in staging")
    await bot.settle()

    (sent,) = webhook.received
    assert sent.body is not None
    assert sent.body["action"] == "set_flag"
    assert (sent.body["flag"], sent.body["enabled"], sent.body["environment"]) == (
        "new-checkout",
        True,
        "staging",
    )
    assert sent.headers["idempotency-key"] == sent.body["idempotency_key"]
    assert sent.headers["x-hitl-signature"].startswith("sha256=")
    assert await recorded(redis) == []
    assert "Turned new-checkout on in staging" in bot_replies(slack, DEPLOYS, root)[-1].text
