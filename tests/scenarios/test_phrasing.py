"""The offline model understands people (issue 13, item 6), end to end: signed Slack requests
into the real Bolt app, the real slack_sdk client against the emulator, a real redis-server."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    shown_text,
)


@pytest.mark.parametrize(
    "text",
    ["can you deploy api 1.4.2 to production please", "🚀 deploy api 1.4.2 to prod"],
)
async def test_a_polite_or_decorated_deploy_gets_its_approval_card(
    slack: SlackEmulator, bot: BotProcess, redis: Redis, text: str
) -> None:
    root = await mention(slack, text)
    await bot.settle()

    approval = approval_message(slack, DEPLOYS, root)
    assert "Deploy api 1.4.2 to production" in shown_text(approval)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_the_service_named_in_free_text_is_the_one_on_call_hears_about(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_oncall=CAROL)
    root = await mention(slack, "the checkout service is down")
    await bot.settle()

    assert (await load_thread(redis, root)).agent == "incident"
    (page,) = [m for m in bot_replies(slack, DEPLOYS, root) if "hitl_take" in str(m.blocks)]
    summary = shown_text(page)
    assert "reports: the checkout service is down" in summary
    assert "No deploys of checkout" in summary
    assert "Which service" not in "\n".join(m.text or "" for m in bot_replies(slack, DEPLOYS, root))


async def test_a_version_that_is_not_listed_is_asked_about_never_approved(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 9.9.9 to production")
    await bot.settle()

    question = approval_message(slack, DEPLOYS, root)  # the one message with buttons
    asked = shown_text(question)
    assert "api has no version 9.9.9; the latest are 1.4.2, 1.4.1, 1.4.0 — which one?" in asked
    assert not any("hitl_approve" in str(m.blocks) for m in bot_replies(slack, DEPLOYS, root))

    await slack.click(user=ALICE, message=question, action_id="hitl_answer:1")  # 1.4.1
    await bot.settle()

    approval = approval_message(slack, DEPLOYS, root)
    assert "Deploy api 1.4.1 to production" in shown_text(approval)
    assert not has_buttons(slack.find_message(DEPLOYS, question.ts))
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.1", "production")]
