"""Slack delivery hygiene, approver groups and the audit trail, through the real request path."""

from __future__ import annotations

import asyncio
import os
import sys

from redis.asyncio import Redis

from agents.runtime.store import thread_id_for
from agents.runtime.thread import SlackOrigin
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    event_body,
    mention,
    reject,
    shown_text,
    thread_status,
)

SRE = "S0SRE"


async def test_edits_deletions_bots_and_other_events_get_200_and_change_nothing(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api to production")
    await bot.settle()
    base = {"type": "message", "channel": DEPLOYS, "thread_ts": root, "ts": "1700000001.000900"}
    deliveries = [
        base | {"subtype": "message_changed", "message": {"text": "1.4.2", "user": ALICE}},
        base | {"subtype": "message_deleted", "previous_message": {"text": "x"}},
        base | {"subtype": "bot_message", "bot_id": "B0OTHER", "text": "1.4.2"},
        base | {"user": ALICE, "bot_id": "B0OTHER", "text": "1.4.2"},
        {"type": "reaction_added", "user": ALICE, "reaction": "eyes", "item": {"type": "message"}},
    ]
    for i, event in enumerate(deliveries):
        response = await slack.deliver(
            event_body(slack, event, f"Ev{i}"), content_type="application/json"
        )
        assert response.status_code == 200, event
    await bot.settle()
    assert await thread_status(redis, root) == "waiting_input"


async def test_outbound_rate_limits_are_retried_after_retry_after(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert [c.response.get("error") for c in slack.calls_to("chat.postMessage")][:1] == [
        "ratelimited"
    ]
    assert "Deploy api 1.4.2" in shown_text(approval_message(slack, DEPLOYS, root))


async def test_approvers_may_be_user_groups_resolved_through_slack(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    slack.add_usergroup(SRE, [CAROL])
    bot = await make_bot(approvers=frozenset({SRE}))
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    assert f"<!subteam^{SRE}>" in shown_text(approval)

    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [] and slack.ephemerals[-1].user == BOB

    await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert len(slack.calls_to("usergroups.users.list")) == 1  # cached for the second click


async def test_threads_show_prints_the_audit_trail(
    slack: SlackEmulator, bot: BotProcess, redis: Redis, redis_server: str
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=MALLORY, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await reject(slack, user=BOB, message=approval_message(slack, DEPLOYS, root), reason="freeze")
    await bot.settle()
    assert "nothing was deployed" in bot_replies(slack, DEPLOYS, root)[-1].text

    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITL_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "threads",
        "show",
        thread_id,
        env=env | {"REDIS_URL": redis_server},
        stdout=asyncio.subprocess.PIPE,
    )
    out = (await proc.communicate())[0].decode()
    lines = out.splitlines()
    requested = next(line for line in lines if "approval requested" in line)
    assert "deploy api 1.4.2 to production" in requested.lower() and "hash " in requested
    rejected = next(line for line in lines if "rejected" in line)
    assert BOB in rejected and "freeze" in rejected
    assert not any(MALLORY in line for line in lines)  # refused clicks change nothing
