"""Durable progress and delivery: what a thread must show is delivered after its save, retried
while Slack cannot be reached, never twice; input applied once advances the thread however often
its job is delivered; the reconciler finds and repairs threads nobody is working on."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from redis.asyncio import Redis

from agents import keys
from agents.events import ApprovalDecision, call_hash
from agents.jobs import Decide, JobQueue
from agents.store import ThreadStore, thread_id_for
from agents.thread import SlackOrigin, Status, Thread
from bot.emulator import SlackEmulator
from tests.conftest import BOB, DEPLOYS, BotProcess, MakeBot
from tests.scenarios.helpers import approval_message, bot_replies, has_buttons, shown_text
from tests.scenarios.test_deploy import deployments, mention

UNREACHABLE = 4
"""429s in a row that outlast slack_sdk's own three retries: the call counts as failed."""


async def thread_of(redis: Redis, root: str) -> Thread:
    thread = await ThreadStore(redis).load(
        thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    )
    assert thread is not None
    return thread


def results(slack: SlackEmulator, root: str) -> list[str]:
    return [m.text or "" for m in bot_replies(slack, DEPLOYS, root) if "Deployed" in (m.text or "")]


async def test_an_approval_slack_could_not_take_is_posted_once_when_slack_answers(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.rate_limit("chat.postMessage", times=UNREACHABLE, retry_after=0)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert not [m for m in bot_replies(slack, DEPLOYS, root) if has_buttons(m)]
    assert (await thread_of(redis, root)).status is Status.WAITING_APPROVAL

    await asyncio.sleep(1.2)  # the first retry is due after a second
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)  # exactly one
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert len(results(slack, root)) == 1


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
    ((entry_id, job),) = await doomed.take(block_ms=None)
    assert isinstance(job, Decide)
    thread = await thread_of(redis, root)
    decision = ApprovalDecision(
        call_id=job.call_id, approved=True, user=BOB, action_hash=job.action_hash, job=entry_id
    )
    await ThreadStore(redis).save(thread.append(decision))
    assert await deployments(redis) == []

    await asyncio.sleep(0.3)  # past the claim time: another worker takes the job over
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert not slack.ephemerals  # the approver is not told "already settled"
    assert len(results(slack, root)) == 1
    card = slack.find_message(DEPLOYS, approval.ts)
    assert f"Approved by <@{BOB}>" in shown_text(card)


async def test_the_reconciler_finds_a_run_nobody_works_on_and_finishes_it(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    bot = await make_bot(hitl_reconcile_seconds=0.2)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    # The decision was saved, then its job was lost (say, Redis came back without it).
    thread = await thread_of(redis, root)
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


async def test_a_lost_delivery_retry_is_repaired_by_the_reconciler(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_reconcile_seconds=0.2)
    slack.rate_limit("chat.postMessage", times=UNREACHABLE, retry_after=0)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await redis.delete(keys.deadlines())  # the planned retry is lost
    await asyncio.sleep(1.5)

    assert bot.services.reconciler is not None
    assert await bot.services.reconciler.reconcile() == 1
    await bot.settle()
    approval_message(slack, DEPLOYS, root)  # exactly one


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
