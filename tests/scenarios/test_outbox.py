"""Durable progress and delivery: what a thread must show is delivered after its save, retried
while Slack cannot be reached, never twice; input applied once advances the thread however often
its job is delivered; the reconciler finds and repairs threads nobody is working on."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import ApprovalDecision, Error, call_hash
from agents.runtime.jobs import Decide, JobQueue
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    reject,
    shown_text,
    unaccounted_threads,
)

ONCALL = "C0ONCALL"
UNREACHABLE = 4
"""429s in a row that outlast slack_sdk's own three retries: the call counts as failed."""


def results(slack: SlackEmulator, root: str) -> list[str]:
    return [m.text or "" for m in bot_replies(slack, DEPLOYS, root) if "Deployed" in (m.text or "")]


async def test_an_approval_slack_could_not_take_is_posted_once_when_slack_answers(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.rate_limit("chat.postMessage", times=UNREACHABLE, retry_after=0)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert not [m for m in bot_replies(slack, DEPLOYS, root) if has_buttons(m)]
    assert (await load_thread(redis, root)).status is Status.WAITING_APPROVAL

    await asyncio.sleep(1.2)  # the first retry is due after a second
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)  # exactly one
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert len(results(slack, root)) == 1
    assert await unaccounted_threads(redis) == []


async def test_a_card_update_slack_could_not_take_never_holds_the_deploy_back(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    slack.rate_limit("chat.update", times=UNREACHABLE, retry_after=0)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    # Progress never waits on a message: the approved deploy ran, and nobody was told
    # "already settled" for their own decision.
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert not slack.ephemerals

    await asyncio.sleep(1.2)
    await bot.settle()
    card = slack.find_message(DEPLOYS, approval.ts)
    assert not has_buttons(card) and f"Approved by <@{BOB}>" in shown_text(card)
    assert len(results(slack, root)) == 1
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert await unaccounted_threads(redis) == []


async def test_a_redelivered_decision_advances_the_run_instead_of_being_refused(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_job_claim_ms=200)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")

    # A worker takes the job, saves the decision, and dies before it takes the next step.
    doomed = JobQueue(redis, consumer="doomed")
    ((entry_id, job, _key),) = await doomed.take(block_ms=None)
    assert isinstance(job, Decide)
    thread = await load_thread(redis, root)
    decision = ApprovalDecision(
        call_id=job.call_id, approved=True, user=BOB, action_hash=job.action_hash, job=entry_id
    )
    await ThreadStore(redis).save(thread.append(decision))
    assert await deployments(redis) == []

    # Past the claim time another worker takes the job over, but the thread is busy a while
    # (a lease someone else holds): the job is put back under a new entry, keeping its key.
    await redis.set(keys.lease(thread.id), "someone-else", px=500)
    await asyncio.sleep(0.3)
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert not slack.ephemerals  # the approver is not told "already settled"
    assert len(results(slack, root)) == 1
    card = slack.find_message(DEPLOYS, approval.ts)
    assert f"Approved by <@{BOB}>" in shown_text(card)
    assert await unaccounted_threads(redis) == []


async def test_the_reconciler_finds_a_run_nobody_works_on_and_finishes_it(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    bot = await make_bot(hitl_reconcile_seconds=0.2)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    # The decision was saved, then its job was lost (say, Redis came back without it).
    thread = await load_thread(redis, root)
    request = thread.open_request()
    assert request is not None
    action_hash = call_hash(request.action)
    decision = ApprovalDecision(
        call_id=request.call_id, approved=True, user=BOB, action_hash=action_hash
    )
    await ThreadStore(redis).save(thread.append(decision))
    await asyncio.sleep(0.3)

    listed = await _hitl(redis_server, "threads", "list", "--stuck", HITL_RECONCILE_SECONDS="0.2")
    assert thread.id in listed and "running" in listed
    assert bot.services.reconciler is not None
    assert await bot.services.reconciler.reconcile() == 1
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(f"{bot.server.url}/metrics")).text
    assert "hitl_stuck_threads 1.0" in metrics

    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert len(results(slack, root)) == 1
    assert f"Approved by <@{BOB}>" in shown_text(slack.find_message(DEPLOYS, approval.ts))
    await asyncio.sleep(0.3)
    assert await bot.services.reconciler.reconcile() == 0
    assert thread.id not in await _hitl(redis_server, "threads", "list", "--stuck")
    assert await unaccounted_threads(redis) == []


async def test_a_lost_delivery_retry_is_repaired_by_the_reconciler(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_reconcile_seconds=0.2)
    slack.rate_limit("chat.postMessage", times=UNREACHABLE, retry_after=0)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await redis.delete(keys.deadlines())  # the planned retry is lost
    assert len(await unaccounted_threads(redis)) == 1
    await asyncio.sleep(1.5)

    assert bot.services.reconciler is not None
    assert await bot.services.reconciler.reconcile() == 1
    await bot.settle()
    approval_message(slack, DEPLOYS, root)  # exactly one
    assert await unaccounted_threads(redis) == []


async def _hitl(redis_url: str, *args: str, **env: str) -> str:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITL_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=inherited | {"REDIS_URL": redis_url} | env,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out.decode()


async def test_a_post_slack_made_before_answering_500_is_not_posted_again(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.fail("chat.postMessage", status=500, after=True)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await asyncio.sleep(1.2)
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)  # exactly one, found by its metadata
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    texts = [m.text for m in bot_replies(slack, DEPLOYS, root)]
    assert len(texts) == len(set(texts)), texts
    assert await unaccounted_threads(redis) == []


async def test_a_post_that_timed_out_after_slack_made_it_is_not_posted_again(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_slack_timeout=1)
    slack.stall("chat.postMessage", seconds=2, after=True)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await asyncio.sleep(1.2)
    await bot.settle()
    approval_message(slack, DEPLOYS, root)  # exactly one


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long"])
async def test_a_card_slack_refuses_is_shown_plain_with_its_buttons_and_audited(
    slack: SlackEmulator, bot: BotProcess, redis: Redis, error: str
) -> None:
    slack.refuse("chat.postMessage", error, times=1)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    fallback = approval_message(slack, DEPLOYS, root)  # still something to click
    assert "Deploy api 1.4.2 to production" in shown_text(fallback)
    thread = await load_thread(redis, root)
    (audit,) = [e for e in thread.events if isinstance(e, Error) and e.scope == "delivery"]
    assert error in audit.message
    assert thread.status is Status.WAITING_APPROVAL

    await slack.click(user=BOB, message=fallback, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert len(results(slack, root)) == 1


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
async def test_an_escalation_channel_the_bot_cannot_post_in_falls_back_to_the_thread(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, error: str
) -> None:
    bot = await make_bot(hitl_oncall=CAROL, hitl_escalation_channel=ONCALL)
    slack.refuse("chat.postMessage", error, channel=ONCALL)
    root = await mention(slack, "checkout is returning 500s")
    await bot.settle()

    replies = bot_replies(slack, DEPLOYS, root)
    page = [m for m in replies if "hitl_take" in str(m.blocks)]
    assert len(page) == 1  # on-call is paged where the requester is
    assert any(ONCALL in (m.text or "") and "couldn't post" in (m.text or "") for m in replies)
    thread = await load_thread(redis, root)
    assert any(
        isinstance(e, Error) and e.scope == "delivery" and error in e.message for e in thread.events
    )

    await slack.click(user=CAROL, message=page[0], action_id="hitl_take")
    await bot.settle()
    assert f"<@{CAROL}>" in shown_text(slack.find_message(DEPLOYS, page[0].ts))
    assert await unaccounted_threads(redis) == []


async def test_a_refusal_nobody_can_be_told_is_audited_not_lost(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    slack.refuse("chat.postEphemeral", "user_not_in_channel")
    await slack.click(
        user=MALLORY, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    thread = await load_thread(redis, root)
    assert any(isinstance(e, Error) and "user_not_in_channel" in e.message for e in thread.events)
    assert thread.status is Status.WAITING_APPROVAL
    assert await unaccounted_threads(redis) == []


async def test_while_slack_is_down_a_run_goes_on_and_one_retry_delivers_soon_after(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    slack.fail("chat.update", status=503, times=None)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    # The steps after the decision did not each try (and back off) again: one retry is
    # planned, due within seconds.
    failed = [c for c in slack.calls_to("chat.update") if c.fault]
    assert len(failed) == 1, failed

    slack.clear_faults()
    await asyncio.sleep(1.2)
    await bot.settle()
    assert f"Approved by <@{BOB}>" in shown_text(slack.find_message(DEPLOYS, approval.ts))
    assert len(results(slack, root)) == 1
    assert await unaccounted_threads(redis) == []


@pytest.mark.parametrize("fault", ["500", "refused"])
async def test_a_form_slack_does_not_open_says_so_and_a_second_click_works(
    slack: SlackEmulator, bot: BotProcess, redis: Redis, fault: str
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    if fault == "500":
        slack.fail("views.open", status=500)
    else:
        slack.refuse("views.open", "expired_trigger_id", times=1)
    await slack.click(user=BOB, message=approval, action_id="hitl_reject")
    await slack.wait_for(lambda: bool(slack.ephemerals))
    assert slack.ephemerals[-1].user == BOB and "click again" in slack.ephemerals[-1].text
    await reject(slack, user=BOB, message=approval, reason="not today")
    await bot.settle()
    assert await deployments(redis) == []
    assert "Rejected by" in shown_text(slack.find_message(DEPLOYS, approval.ts))


async def test_a_card_that_can_no_longer_be_updated_is_posted_again_and_audited(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    slack.refuse("chat.update", "message_not_found", times=1)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    reposted = [
        m for m in bot_replies(slack, DEPLOYS, root) if f"Approved by <@{BOB}>" in shown_text(m)
    ]
    assert len(reposted) == 1 and reposted[0].ts != approval.ts
    thread = await load_thread(redis, root)
    assert any(isinstance(e, Error) and "message_not_found" in e.message for e in thread.events)
    assert await unaccounted_threads(redis) == []


@pytest.mark.parametrize(
    "method", ["chat.postEphemeral", "reactions.add", "reactions.remove", "conversations.replies"]
)
async def test_other_calls_failing_once_lose_and_repeat_nothing(
    slack: SlackEmulator, bot: BotProcess, redis: Redis, method: str
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    slack.fail(method, status=500)
    if method == "conversations.replies":  # the search after a post that went through
        slack.fail("chat.postMessage", status=500, after=True)
    await slack.click(user=MALLORY, message=approval, action_id="hitl_approve")
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    for _ in range(3):
        await asyncio.sleep(1.1)
        await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert [e.user for e in slack.ephemerals] == [MALLORY]
    assert len(results(slack, root)) == 1
    texts = [m.text for m in bot_replies(slack, DEPLOYS, root)]
    assert len(texts) == len(set(texts)), texts
    assert await unaccounted_threads(redis) == []


async def test_two_workers_that_both_think_they_hold_a_thread_post_its_card_once(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    # Worker A's lease ran out while its card post was still under way (a long pause); worker
    # B takes the thread on. B must not post the card A's call is about to land.
    a, b = await make_bot(), await make_bot()
    slack.stall("chat.postMessage", seconds=1.0)  # lands when the stall ends
    root = await mention(slack, "deploy api 1.4.2 to production")
    first = asyncio.create_task(a.settle())
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    for _ in range(100):  # until A's post is under way
        record = await redis.hget(keys.deliveries(thread_id), "1.1")
        if record and b"sending" in record:
            break
        await asyncio.sleep(0.01)
    await b.services.runtime.advance(thread_id)  # as if B held the lease now
    await first
    for _ in range(2):
        await asyncio.sleep(1.1)
        await b.settle()
    approval = approval_message(slack, DEPLOYS, root)  # exactly one
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await a.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert await unaccounted_threads(redis) == []


async def test_a_page_slack_made_before_answering_500_is_not_posted_again_in_the_channel(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_oncall=CAROL, hitl_escalation_channel=ONCALL)
    slack.add_channel(ONCALL, "oncall")
    slack.fail("chat.postMessage", status=500, after=True, channel=ONCALL)
    await mention(slack, "checkout is returning 500s")
    await bot.settle()
    await asyncio.sleep(1.2)
    await bot.settle()
    pages = [m for m in slack.messages if m.channel == ONCALL and has_buttons(m)]
    assert len(pages) == 1  # found by its metadata in the channel's history
    assert slack.calls_to("conversations.history")
    assert await unaccounted_threads(redis) == []


async def test_a_refused_click_changes_no_thread_and_its_lost_retry_is_repaired(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_reconcile_seconds=0.2)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    before = await load_thread(redis, root)

    slack.fail("chat.postEphemeral", status=500)
    await slack.click(user=MALLORY, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert not slack.ephemerals
    assert (await load_thread(redis, root)).events == before.events  # nothing decided, no trace
    await redis.delete(keys.deadlines())  # the planned retry is lost
    assert len(await unaccounted_threads(redis)) == 1  # someone is still to be told

    await asyncio.sleep(1.5)
    assert bot.services.reconciler is not None
    assert await bot.services.reconciler.reconcile() == 1
    await bot.settle()
    assert [e.user for e in slack.ephemerals] == [MALLORY]
    assert "can't approve" in slack.ephemerals[0].text
    assert await unaccounted_threads(redis) == []
