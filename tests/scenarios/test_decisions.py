"""Approvals a team can trust: one decision however many clicks, quorum, edits, reasons."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agents.runtime.events import ApprovalDecision
from agents.runtime.thread import Thread
from bot.emulator.server import IncompleteView, SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    shown_text,
)

QUORUM_POLICY = """
rules:
  - tool: deploy
    when: {environment: production}
    approvers: [U0BOB, U0CAROL, U0DAVE]
    quorum: 2
"""


def decisions(thread: Thread) -> list[ApprovalDecision]:
    return [e for e in thread.events if isinstance(e, ApprovalDecision)]


@pytest.mark.slow
async def test_fifty_concurrent_clicks_make_exactly_one_decision(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    approvers = [f"U0APPR{i:02d}" for i in range(10)]
    for user in approvers:
        slack.add_user(user, user.lower())
    bots = [await make_bot(approvers=frozenset(approvers)) for _ in range(3)]  # three processes
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bots[0].settle()
    approval = approval_message(slack, DEPLOYS, root)
    # Ten approvers open the reject modal; then 40 approve clicks and 10 rejections land at once.
    modals = []
    for user in approvers:
        await slack.click(user=user, message=approval, action_id="hitl_reject")
        await slack.wait_for(lambda u=user: bool(slack.open_views(u)))  # type: ignore[misc]
        modals.append((user, slack.open_views(user)[0]))
    clicks = [
        slack.click(user=approvers[i % 10], message=approval, action_id="hitl_approve")
        for i in range(40)
    ]
    rejections = [
        slack.submit_view(user=u, view=v, values={"reason": {"reason": f"no ({u})"}})
        for u, v in modals
    ]
    responses = await asyncio.gather(*clicks, *rejections)
    assert [r.status_code for r in responses] == [200] * 50

    await asyncio.gather(*(bot.settle() for bot in bots))

    thread = await load_thread(redis, root)
    (decision,) = decisions(thread)  # exactly one, whoever was first
    ran = await deployments(redis)
    assert ran == ([("api", "1.4.2", "production")] if decision.approved else [])
    refused = [e for e in slack.ephemerals if e.user in approvers]
    assert len(refused) == 49
    assert all("Already settled" in e.text for e in refused)
    assert not has_buttons(slack.find_message(DEPLOYS, approval.ts))


async def test_a_mention_retried_three_times_by_slack_runs_once(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    delivery = await slack.post_message(
        user=ALICE,
        channel=DEPLOYS,
        text=f"<@{slack.identity.bot_user_id}> deploy web 2.0.1 to staging",
    )
    mention_body = delivery.responses[0].request.content.decode()
    for attempt in ("1", "2", "3"):
        retried = await slack.deliver(
            mention_body,
            content_type="application/json",
            headers={"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retried.status_code == 200
    await bot.settle()

    assert await deployments(redis) == [("web", "2.0.1", "staging")]
    assert len(bot_replies(slack, DEPLOYS, delivery.message.ts)) == 1
    assert len(await redis.keys("hitl:thread:*")) == 1


async def test_a_quorum_of_two_needs_two_distinct_allowed_approvers(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(QUORUM_POLICY)
    bot = await make_bot(hitl_policy_file=policy)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    assert "needs 2 approvals" in shown_text(approval)
    assert "hitl_edit" not in str(approval.blocks)  # edits settle alone: not with a quorum

    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == []
    assert "(1 of 2)" in shown_text(slack.find_message(DEPLOYS, approval.ts))
    assert has_buttons(slack.find_message(DEPLOYS, approval.ts))

    for user, expected in [
        (BOB, "already approved"),
        (MALLORY, "can't approve"),
        (ALICE, "can't approve"),
    ]:
        await slack.click(user=user, message=approval, action_id="hitl_approve")
        await bot.settle()
        assert slack.ephemerals[-1].user == user and expected in slack.ephemerals[-1].text
    assert await deployments(redis) == []

    await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    # Every vote of the quorum is named on the settled card, not only the last one.
    settled = shown_text(slack.find_message(DEPLOYS, approval.ts))
    assert f"Approved by <@{BOB}> and <@{CAROL}>" in settled
    assert [d.user for d in decisions(await load_thread(redis, root))] == [BOB, CAROL]


async def test_edit_then_approve_runs_the_edited_call_and_records_both(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    await slack.click(user=BOB, message=approval, action_id="hitl_edit")
    await slack.wait_for(lambda: bool(slack.open_views(BOB)))
    (modal,) = slack.open_views(BOB)
    assert {b["block_id"] for b in modal.blocks} == {"service", "version", "environment"}

    bad = await slack.submit_view(user=BOB, view=modal, values={"version": {"version": "latest"}})
    assert bad.status_code == 200 and "version" in modal.errors and not modal.closed
    await slack.submit_view(user=BOB, view=modal, values={"version": {"version": "1.4.3"}})
    await bot.settle()

    assert await deployments(redis) == [("api", "1.4.3", "production")]
    record = shown_text(slack.find_message(DEPLOYS, approval.ts))
    assert f"Edited by <@{BOB}>" in record and "1.4.2 → 1.4.3" in record
    (decision,) = decisions(await load_thread(redis, root))
    assert decision.edited_action == {
        "intent": "deploy",
        "service": "api",
        "version": "1.4.3",
        "environment": "production",
    }
    assert "Deployed api 1.4.3 to production" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_the_requester_cannot_edit_their_way_to_an_approval(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=ALICE, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(ALICE)))
    await slack.submit_view(
        user=ALICE, view=slack.open_views(ALICE)[0], values={"version": {"version": "1.4.3"}}
    )
    await bot.settle()
    assert await deployments(redis) == []
    assert "can't approve" in slack.ephemerals[-1].text


async def test_a_rejection_needs_a_reason_and_the_agent_hears_it(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_reject"
    )
    await slack.wait_for(lambda: bool(slack.open_views(BOB)))
    (modal,) = slack.open_views(BOB)

    with pytest.raises(IncompleteView):  # Slack's client refuses an empty required field
        await slack.submit_view(user=BOB, view=modal, values={"reason": {"reason": ""}})
    blank = await slack.submit_view(user=BOB, view=modal, values={"reason": {"reason": "   "}})
    assert blank.json()["response_action"] == "errors" and not modal.closed
    assert decisions(await load_thread(redis, root)) == []

    await slack.submit_view(user=BOB, view=modal, values={"reason": {"reason": "freeze"}})
    await bot.settle()
    assert modal.closed
    (decision,) = decisions(await load_thread(redis, root))
    assert (decision.approved, decision.reason) == (False, "freeze")
    assert bot_replies(slack, DEPLOYS, root)[-1].text.endswith("nothing was deployed: freeze")
