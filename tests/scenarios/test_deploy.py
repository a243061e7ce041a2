"""The walking skeleton end to end: signed Slack requests into the real Bolt app over HTTP, the
real slack_sdk client calling the emulator, a real redis-server, the offline model."""

from __future__ import annotations

import copy

from redis.asyncio import Redis

from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, BotProcess, MakeBot
from tests.support import (
    SCOPE_FOR_METHOD,
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    mention,
    redis_snapshot,
    reject,
    shown_text,
)


async def test_production_deploy_is_approved_run_once_and_reported(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()

    approval = approval_message(slack, DEPLOYS, root)
    assert "Deploy api 1.4.2 to production" in shown_text(approval)
    assert await deployments(redis) == []
    stale = copy.deepcopy(approval)  # as a client that has not seen the update shows it

    response = await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    assert response.status_code == 200
    await bot.settle()

    assert await deployments(redis) == [("api", "1.4.2", "production")]
    updated = slack.find_message(DEPLOYS, approval.ts)
    assert not has_buttons(updated)
    assert f"Approved by <@{BOB}>" in shown_text(updated)
    assert "Deployed api 1.4.2 to production" in bot_replies(slack, DEPLOYS, root)[-1].text

    # A second click on the stale message runs nothing and says who decided.
    await slack.click(user=CAROL, message=stale, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert slack.ephemerals[-1].user == CAROL
    assert f"Approved by <@{BOB}>" in slack.ephemerals[-1].text
    # Every Web API method used is one the manifest's scopes cover.
    assert {call.method for call in slack.calls} <= set(SCOPE_FOR_METHOD)


async def test_rejected_deploy_runs_nothing_and_says_so(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api v1.4.2 to prod")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    await reject(slack, user=BOB, message=approval, reason="change freeze until Monday")
    await bot.settle()

    assert await deployments(redis) == []
    decided = shown_text(slack.find_message(DEPLOYS, approval.ts))
    assert f"Rejected by <@{BOB}>" in decided and "change freeze until Monday" in decided
    last = bot_replies(slack, DEPLOYS, root)[-1].text
    assert "nothing was deployed" in last and "change freeze until Monday" in last


async def test_missing_version_is_asked_and_the_reply_resumes(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api to production")
    await bot.settle()
    question = bot_replies(slack, DEPLOYS, root)[-1]
    assert "Which version of api" in question.text
    assert not has_buttons(question)

    reply = await slack.post_message(user=ALICE, channel=DEPLOYS, text="1.4.2", thread_ts=root)
    assert all(r.status_code == 200 for r in reply.responses)
    await bot.settle()

    approval = approval_message(slack, DEPLOYS, root)
    assert "Deploy api 1.4.2 to production" in shown_text(approval)
    assert await deployments(redis) == []


async def test_staging_deploy_runs_without_approval(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web v2.0.1 to staging")
    await bot.settle()

    assert await deployments(redis) == [("web", "2.0.1", "staging")]
    replies = bot_replies(slack, DEPLOYS, root)
    assert not any(has_buttons(m) for m in replies)
    assert "Deployed web 2.0.1 to staging" in replies[-1].text


async def test_a_restarted_bot_process_resumes_the_paused_thread(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    first = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await first.settle()
    approval = approval_message(slack, DEPLOYS, root)
    await first.stop()

    second = await make_bot()  # a new process: new Bolt app, clients and HTTP server
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await second.settle()

    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert "Deployed api 1.4.2" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_requester_cannot_approve_their_own_production_deploy(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production", user=ALICE)
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    await slack.click(user=ALICE, message=approval, action_id="hitl_approve")
    await bot.settle()

    assert await deployments(redis) == []
    refusal = slack.ephemerals[-1]
    assert refusal.user == ALICE and "can't approve" in refusal.text
    assert has_buttons(slack.find_message(DEPLOYS, approval.ts))

    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_junk_requests_get_clear_answers_and_change_nothing(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    before = await redis_snapshot(redis)

    forged = await slack.deliver(
        '{"type":"event_callback"}', content_type="application/json", signature="v0=forged"
    )
    assert forged.status_code == 401

    # A click for a thread that does not exist: the button's value names another thread.
    ghost = copy.deepcopy(approval)
    for block in ghost.blocks:
        for element in block.get("elements", []):
            if "value" in element:
                element["value"] = element["value"].replace('"thread_id":"t', '"thread_id":"x')
    await slack.click(user=BOB, message=ghost, action_id="hitl_approve")
    await slack.wait_for(lambda: len(slack.ephemerals) == 1)
    assert "can't find the run" in slack.ephemerals[-1].text

    # A button no listener knows.
    unknown = copy.deepcopy(approval)
    unknown.blocks[-1]["elements"][0]["action_id"] = "launch_missiles"
    await slack.click(user=BOB, message=unknown, action_id="launch_missiles")
    await slack.wait_for(lambda: len(slack.ephemerals) == 2)
    assert "isn't one I know" in slack.ephemerals[-1].text

    await bot.settle()
    assert await redis_snapshot(redis) == before
    assert await deployments(redis) == []
    assert has_buttons(slack.find_message(DEPLOYS, approval.ts))
