"""Replies as people write them, through signed requests and real Redis: "Also send to #channel"
(`thread_broadcast`) and replies with files (`file_share`) answer questions and mention the bot
like any message; edits, deletions, bots and Slack's own messages change nothing. The events are
built by hand in the shapes Slack sends (docs.slack.dev message subtypes)."""

from __future__ import annotations

from itertools import count
from typing import Any

from redis.asyncio import Redis

from agents.runtime.events import HumanResponse, UserMessage
from agents.runtime.thread import Status
from bot.emulator.server import Message, SlackEmulator
from tests.conftest import ALICE, DEPLOYS, BotProcess
from tests.support import (
    approval_message,
    deployments,
    event_body,
    load_thread,
    mention,
    shown_text,
)

FILE = {"id": "F0PLAN", "name": "plan.pdf", "title": "plan", "mimetype": "application/pdf"}
_event_ids = count(1)


async def deliver(slack: SlackEmulator, event: dict[str, Any], *, retry: str = "") -> None:
    body = event_body(slack, event, f"EvVARIANT{next(_event_ids)}")
    headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    response = await slack.deliver(body, content_type="application/json", headers=headers)
    assert response.status_code == 200, event


def reply_event(slack: SlackEmulator, root: str, text: str, /, **fields: Any) -> dict[str, Any]:
    """A person's reply in thread `root`, as the `message` event Slack sends for it."""
    ts = slack.workspace.next_ts()
    event = {"type": "message", "channel": DEPLOYS, "user": ALICE, "text": text, "ts": ts}
    event |= {"thread_ts": root, "event_ts": ts, "channel_type": "channel"}
    return event | fields


def broadcast(root: str) -> dict[str, Any]:
    return {
        "subtype": "thread_broadcast",
        "root": {"type": "message", "user": ALICE, "text": "deploy", "ts": root},
    }


FILE_SHARE: dict[str, Any] = {
    "subtype": "file_share",
    "files": [FILE],
    "upload": False,
    "display_as_bot": False,
}


async def test_a_question_answered_with_also_send_to_channel_resumes_the_run(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to staging")
    await bot.settle()
    assert (await load_thread(redis, root)).status is Status.WAITING_INPUT

    await deliver(slack, reply_event(slack, root, "v2.0.1", **broadcast(root)))
    await bot.settle()
    assert await deployments(redis) == [("web", "2.0.1", "staging")]


async def test_a_question_answered_with_a_file_attached_resumes_the_run(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to staging")
    await bot.settle()

    await deliver(slack, reply_event(slack, root, "v2.0.1", **FILE_SHARE))
    await bot.settle()
    assert await deployments(redis) == [("web", "2.0.1", "staging")]


async def test_a_file_alone_is_an_answer_that_names_the_file(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to staging")
    await bot.settle()

    await deliver(slack, reply_event(slack, root, "", **FILE_SHARE))
    await bot.settle()
    answers = [
        e.text for e in (await load_thread(redis, root)).events if isinstance(e, HumanResponse)
    ]
    assert answers == ["(shared file: plan.pdf)"]
    assert await deployments(redis) == []


async def test_a_broadcast_reply_mentioning_the_bot_is_taken_once(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to staging")
    await bot.settle()
    # Slack sends both an app_mention and a message event for it, each with the subtype, and
    # redelivers the app_mention when it did not see our 200 in time.
    text = f"<@{slack.identity.bot_user_id}> v2.0.1"
    message = reply_event(slack, root, text, **broadcast(root))
    await deliver(slack, message | {"type": "app_mention"})
    await deliver(slack, message)
    await deliver(slack, message | {"type": "app_mention"}, retry="1")
    await bot.settle()

    thread = await load_thread(redis, root)
    assert [e.text for e in thread.events if isinstance(e, HumanResponse)] == [text]
    assert await deployments(redis) == [("web", "2.0.1", "staging")]


async def test_a_mention_with_a_file_launches_a_run(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    ts = slack.workspace.next_ts()
    text = f"<@{slack.identity.bot_user_id}> deploy api 1.4.2 to production"
    slack.workspace.messages.append(Message(DEPLOYS, ts, text, user=ALICE))
    mention_event = {"type": "app_mention", "channel": DEPLOYS, "user": ALICE, "text": text}
    mention_event |= {"ts": ts, "event_ts": ts} | FILE_SHARE
    await deliver(slack, mention_event)
    await deliver(slack, mention_event | {"type": "message", "channel_type": "channel"})
    await bot.settle()

    thread = await load_thread(redis, ts)
    assert [e.text for e in thread.events if isinstance(e, UserMessage)] == [text]
    assert "Deploy api 1.4.2" in shown_text(approval_message(slack, DEPLOYS, ts))


async def test_edits_deletions_and_bots_messages_of_any_subtype_change_nothing(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy web to staging")
    await bot.settle()
    before = await load_thread(redis, root)
    me = slack.identity
    said = {"text": "v2.0.1", "user": ALICE}
    ignored = [
        reply_event(slack, root, "", subtype="message_changed", message=said | broadcast(root)),
        reply_event(slack, root, "", subtype="message_deleted", previous_message=said),
        reply_event(slack, root, "v2.0.1", bot_id="B0OTHER", **broadcast(root)),
        reply_event(slack, root, "v2.0.1", user=me.bot_user_id, bot_id=me.bot_id, **FILE_SHARE),
        reply_event(slack, root, "v2.0.1", subtype="bot_message", bot_id="B0OTHER"),
        reply_event(slack, root, f"<@{ALICE}> has joined the channel", subtype="channel_join"),
        reply_event(slack, root, f"<@{me.bot_user_id}> v2.0.1", edited={"user": ALICE})
        | {"type": "app_mention"},
    ]
    for event in ignored:
        await deliver(slack, event)
    assert await bot.settle() == 0
    after = await load_thread(redis, root)
    assert after.version == before.version and after.status is Status.WAITING_INPUT
    assert await deployments(redis) == []
