"""Thread replies and follow-ups, through signed requests and real Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from agents.runtime.events import HumanResponse
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, DEPLOYS, MALLORY, BotProcess
from tests.support import approval_message, bot_replies, deployments, mention, thread_status


async def test_only_the_requester_or_an_approver_answers_a_question(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to staging")
    await bot.settle()

    await slack.post_message(user=MALLORY, channel=DEPLOYS, text="9.9.9", thread_ts=root)
    await bot.settle()
    assert await thread_status(redis, root) is Status.WAITING_INPUT
    assert await deployments(redis) == []

    await slack.post_message(user=ALICE, channel=DEPLOYS, text="v2.0.1", thread_ts=root)
    await bot.settle()
    assert await deployments(redis) == [("web", "2.0.1", "staging")]


async def test_a_redelivered_reply_is_taken_once(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to production")
    await bot.settle()
    # No version in the answer: the agent asks again, so it is waiting for input when the
    # retries arrive and would take a duplicate as a second answer.
    reply = await slack.post_message(user=ALICE, channel=DEPLOYS, text="the newest", thread_ts=root)
    await bot.settle()
    # Slack retries the identical event when it did not see our 200 in time; here, twice.
    original = reply.responses[-1].request.content.decode()
    for attempt in ("1", "2"):
        retried = await slack.deliver(
            original,
            content_type="application/json",
            headers={"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retried.status_code == 200
    await bot.settle()

    origin = SlackOrigin(channel=DEPLOYS, thread_ts=root)
    thread = await ThreadStore(redis).load(thread_id_for(origin))
    assert thread is not None
    assert len([e for e in thread.events if isinstance(e, HumanResponse)]) == 1
    questions = [m for m in bot_replies(slack, DEPLOYS, root) if "Which version" in m.text]
    assert len(questions) == 2


async def test_a_mention_in_a_finished_thread_starts_a_new_request_there(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web 2.0.1 to staging")
    await bot.settle()
    await slack.post_message(
        user=ALICE,
        channel=DEPLOYS,
        thread_ts=root,
        text=f"<@{slack.identity.bot_user_id}> deploy web 2.0.1 to production",
    )
    await bot.settle()

    approval = approval_message(slack, DEPLOYS, root)
    assert "production" in approval.text
    assert await thread_status(redis, root) is Status.WAITING_APPROVAL
    assert len(bot_replies(slack, DEPLOYS, root)) == 2


async def test_chatter_in_a_thread_without_an_agent_is_ignored(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await slack.post_message(user=ALICE, channel=DEPLOYS, text="lunch?")
    await slack.post_message(user=MALLORY, channel=DEPLOYS, text="sure", thread_ts=root.message.ts)
    assert await bot.settle() == 0
    assert await redis.keys("hitl:thread:*") == []
