"""Approval cards by DM to named deciders, and outcomes by DM to requesters who asked through
the API (issue 13, item 2). Through the real Bolt app and slack_sdk client, signed like
Slack, with a real Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
from redis.asyncio import Redis

from agents.runtime.events import Error
from agents.runtime.thread import Status
from bot.emulator.server import SlackEmulator
from bot.slack import blocks, dms
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    shown_text,
)

TOKEN = "test-api-token"


def policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return path


async def test_named_deciders_get_the_card_by_dm_and_see_it_settled(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    [to_bob] = slack.dm(BOB)
    [to_carol] = slack.dm(CAROL)
    assert has_buttons(to_bob) and has_buttons(to_carol)
    assert "1.4.2" in shown_text(to_bob)
    assert slack.dm(ALICE) == []  # the requester is not a decider
    card = approval_message(slack, DEPLOYS, root)

    # Approve on Carol's DM copy: it counts, once; every copy shows who approved.
    await slack.click(user=CAROL, message=to_carol, action_id=blocks.APPROVE_ACTION)
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    for copy in (
        slack.find_message(to_bob.channel, to_bob.ts),
        slack.find_message(DEPLOYS, card.ts),
    ):
        assert not has_buttons(copy)
        assert f"Approved by <@{CAROL}>" in shown_text(copy)
    assert (await load_thread(redis, root)).status is Status.DONE


async def test_a_user_group_rule_sends_no_dm(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path
) -> None:
    slack.add_usergroup("S0SRE", [BOB, CAROL])
    rules = "rules:\n  - tool: deploy\n    approvers: [S0SRE]\n"
    bot = await make_bot(hitl_policy_file=policy(tmp_path, rules))
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert has_buttons(approval_message(slack, DEPLOYS, root))
    assert slack.calls_to("conversations.open") == []
    assert slack.dm(BOB) == [] and slack.dm(CAROL) == []


async def test_notify_thread_sends_no_dm(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path
) -> None:
    rules = "rules:\n  - tool: deploy\n    approvers: [U0BOB]\n    notify: thread\n"
    bot = await make_bot(hitl_policy_file=policy(tmp_path, rules))
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert has_buttons(approval_message(slack, DEPLOYS, root))
    assert slack.calls_to("conversations.open") == []
    assert slack.dm(BOB) == []


async def test_a_dm_slack_refuses_is_told_in_the_thread_and_the_run_still_ends(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    ghost = "U0GHOST"  # not in the workspace: conversations.open says user_not_found
    bot = await make_bot(approvers=frozenset({BOB, ghost}))
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert len(slack.dm(BOB)) == 1
    said = [m.text for m in bot_replies(slack, DEPLOYS, root)]
    assert dms.could_not_dm(ghost, "user_not_found") in said
    thread = await load_thread(redis, root)
    assert any(
        isinstance(e, Error) and e.scope == "delivery" and ghost in e.message for e in thread.events
    )

    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id=blocks.APPROVE_ACTION
    )
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert (await load_thread(redis, root)).status is Status.DONE


async def test_an_api_requester_is_told_the_outcome_by_dm(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=f"{bot.server.url}/api", headers=headers) as client:
        launched = await client.post(
            "/threads",
            json={"text": "deploy api 1.4.2 to production", "channel": DEPLOYS, "user": ALICE},
        )
        assert launched.status_code == 202
    await bot.settle()
    assert slack.dm(ALICE) == []
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    card = approval_message(slack, DEPLOYS, root.ts)
    await slack.click(user=BOB, message=card, action_id=blocks.APPROVE_ACTION)
    await bot.settle()
    [told] = slack.dm(ALICE)
    assert "1.4.2" in told.text and f"Approved by <@{BOB}>" in told.text


async def test_a_mention_requester_gets_no_outcome_dm(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    await slack.click(user=BOB, message=card, action_id=blocks.APPROVE_ACTION)
    await bot.settle()
    assert slack.dm(ALICE) == []  # she asked in the thread and sees the outcome there
