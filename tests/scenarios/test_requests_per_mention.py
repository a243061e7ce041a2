"""A requester per request, through signed Slack requests and real Redis: a mention in someone
else's finished thread is the new requester's request (policy, the card and who answers follow
them), and each request has its own step budget."""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from agents.runtime.events import utcnow
from agents.runtime.thread import Status
from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from bot.slack import messages
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    DANA,
    OWNERS,
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    mention,
    shown_text,
    thread_status,
)
from tools.access import ACCESS_TOOLS, GrantAccess, SimulatedAccess

STOPPED = "steps without finishing"


async def mention_in_thread(slack: SlackEmulator, root: str, text: str, *, user: str) -> None:
    """`user` mentions the bot in the Slack thread at `root` (a new request there)."""
    delivery = await slack.post_message(
        user=user,
        channel=DEPLOYS,
        thread_ts=root,
        text=f"<@{slack.identity.bot_user_id}> {text}",
    )
    assert [r.status_code for r in delivery.responses] == [200] * len(delivery.responses)


async def finished_thread_of_alice(slack: SlackEmulator, bot: BotProcess, redis: Redis) -> str:
    """Alice's thread, with her staging deploy done: the thread has nothing open."""
    root = await mention(slack, "deploy web 2.0.1 to staging", user=ALICE)
    await bot.settle()
    assert await thread_status(redis, root) is Status.DONE
    return root


async def bobs_production_deploy(slack: SlackEmulator, bot: BotProcess, redis: Redis) -> str:
    """Bob, an approver, asks for a production deploy in Alice's finished thread."""
    root = await finished_thread_of_alice(slack, bot, redis)
    await mention_in_thread(slack, root, "deploy api 1.4.2 to production", user=BOB)
    await bot.settle()
    assert await thread_status(redis, root) is Status.WAITING_APPROVAL
    return root


async def test_the_card_names_who_asked_for_this_request(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await bobs_production_deploy(slack, bot, redis)
    shown = shown_text(approval_message(slack, DEPLOYS, root))
    # The card credits the person who asked for this request, not the thread's first requester.
    assert f"Requested by <@{BOB}>" in shown
    assert f"Requested by <@{ALICE}>" not in shown


async def test_an_approver_cannot_approve_the_request_they_made_in_someone_elses_thread(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await bobs_production_deploy(slack, bot, redis)
    card = approval_message(slack, DEPLOYS, root)
    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert ("api", "1.4.2", "production") not in await deployments(redis)
    assert await thread_status(redis, root) is Status.WAITING_APPROVAL
    assert has_buttons(approval_message(slack, DEPLOYS, root))
    # Told who can decide instead (the other approver), never themselves.
    told = f"{messages.NOT_ALLOWED} <@{CAROL}> can approve it."
    assert [(e.user, e.text) for e in slack.ephemerals] == [(BOB, told)]

    await slack.click(user=CAROL, message=card, action_id="hitl_approve")
    await bot.settle()
    assert ("api", "1.4.2", "production") in await deployments(redis)
    assert await thread_status(redis, root) is Status.DONE


async def test_the_new_requester_answers_their_question_and_the_first_one_does_not(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await finished_thread_of_alice(slack, bot, redis)
    await mention_in_thread(slack, root, "deploy api to staging", user=BOB)
    await bot.settle()
    assert await thread_status(redis, root) is Status.WAITING_INPUT

    # Alice started the thread, but this question is Bob's: her reply is not an answer.
    await slack.post_message(user=ALICE, channel=DEPLOYS, text="v9.9.9", thread_ts=root)
    await bot.settle()
    assert await thread_status(redis, root) is Status.WAITING_INPUT
    assert ("api", "9.9.9", "staging") not in await deployments(redis)

    await slack.post_message(user=BOB, channel=DEPLOYS, text="v1.4.3", thread_ts=root)
    await bot.settle()
    assert ("api", "1.4.3", "staging") in await deployments(redis)
    assert ("api", "9.9.9", "staging") not in await deployments(redis)


async def test_six_short_requests_in_one_thread_all_finish(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await finished_thread_of_alice(slack, bot, redis)
    versions = [f"2.0.{n}" for n in range(2, 8)]
    for version in versions:
        await mention_in_thread(slack, root, f"deploy web {version} to staging", user=ALICE)
        await bot.settle()
        assert await thread_status(redis, root) is Status.DONE

    assert [v for _, v, _ in await deployments(redis)] == ["2.0.1", *versions]
    assert not any(STOPPED in m.text for m in bot_replies(slack, DEPLOYS, root))


async def test_a_strangers_revoke_in_an_approvers_finished_thread_waits_for_approval(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    access = SimulatedAccess(simulated_store(redis, ACCESS_TOOLS))
    for user in (DANA, ALICE):
        grant = GrantAccess(
            user=user,
            resource="billing-db",
            level="read",
            duration_hours=48,
            justification="on call",
        )
        expires = utcnow() + timedelta(days=2)
        await access.grant(grant, expires_at=expires, idempotency_key=f"seed-{user}")
    bot = await make_bot(hitl_resource_owners=OWNERS)
    # Bob, an approver, revokes at once: his thread is finished.
    root = await mention(slack, f"revoke <@{DANA}> access to billing-db", user=BOB)
    await bot.settle()
    assert await thread_status(redis, root) is Status.DONE

    # Mallory is neither grantee, owner nor approver: her revocation in Bob's thread waits.
    await mention_in_thread(slack, root, f"revoke <@{ALICE}> access to billing-db", user=MALLORY)
    await bot.settle()
    held = {str(g["user"]): str(g["status"]) for g in await access.grants()}
    assert held == {DANA: "revoked", ALICE: "active"}
    assert await thread_status(redis, root) is Status.WAITING_APPROVAL
    assert f"Requested by <@{MALLORY}>" in shown_text(approval_message(slack, DEPLOYS, root))
