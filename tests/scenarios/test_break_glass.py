"""Break-glass through signed Slack requests with real Redis: where a policy rule allows it, the
requester approves their own call with a reason; the call runs at once, the deciders are told
in the thread and by DM, and someone else must acknowledge it."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from redis.asyncio import Redis

from agents.runtime.audit import AuditLog
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import ApprovalDecision, BreakGlassReviewed, utcnow
from agents.runtime.jobs import Decide
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Status
from bot.emulator.payloads import block_actions
from bot.emulator.server import Message, SlackEmulator
from bot.emulator.state import dm_with
from bot.emulator.views import IncompleteView
from bot.threads_cli import _inspect
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    DANA,
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    shown_text,
)

SRE = "S0SRE"
DEPLOY = "deploy api 1.4.2 to production"
PROD = [("api", "1.4.2", "production")]
REASON = "prod is down and nobody else is awake"
ONLY_REQUESTER = "can break glass on"
TOKEN = "test-api-token"


def policy(tmp_path: Path, *, break_glass: bool = True, quorum: int = 2) -> Path:
    """Production deploys need `quorum` approvals from Bob or the SRE group."""
    path = tmp_path / "policy.yml"
    path.write_text(
        "rules:\n"
        "  - tool: deploy\n"
        "    when: {environment: production}\n"
        f"    approvers: [{BOB}, {SRE}]\n"
        f"    quorum: {quorum}\n"
        f"    break_glass: {str(break_glass).lower()}\n"
    )
    return path


async def started(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path, **kwargs: object
) -> tuple[BotProcess, str]:
    """A bot with the policy above, and Alice's production deploy waiting on its card."""
    slack.add_usergroup(SRE, [CAROL])
    options = {k: v for k, v in kwargs.items() if k in ("break_glass", "quorum")}
    settings = {k: v for k, v in kwargs.items() if k not in options}
    bot = await make_bot(hitl_policy_file=policy(tmp_path, **options), **settings)  # type: ignore[arg-type]
    root = await mention(slack, DEPLOY)
    await bot.settle()
    return bot, root


async def break_glass(slack: SlackEmulator, bot: BotProcess, root: str, reason: str) -> None:
    """Alice clicks Break glass on her card and submits `reason`."""
    await slack.click(
        user=ALICE, message=approval_message(slack, DEPLOYS, root), action_id="hitl_break_glass"
    )
    await slack.wait_for(lambda: bool(slack.open_views(ALICE)))
    (modal,) = slack.open_views(ALICE)
    response = await slack.submit_view(
        user=ALICE, view=modal, values={"reason": {"reason": reason}}
    )
    assert response.status_code == 200
    await bot.settle()


def notice(slack: SlackEmulator, root: str) -> list[str]:
    """The texts of the bot's break-glass notices in the thread."""
    return [shown_text(m) for m in bot_replies(slack, DEPLOYS, root) if "broke glass" in m.text]


def notice_message(slack: SlackEmulator, root: str) -> Message:
    (found,) = [m for m in bot_replies(slack, DEPLOYS, root) if "broke glass" in m.text]
    return found


def card_ref(card: Message) -> dict[str, str]:
    """What the card's buttons carry (the request and the hash of its call)."""
    values = [e["value"] for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    ref: dict[str, str] = json.loads(values[0])
    return ref


async def test_the_requester_breaks_glass_and_it_runs_at_once_loudly(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    card = approval_message(slack, DEPLOYS, root)
    button = next(
        e
        for b in card.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "hitl_break_glass"
    )
    assert (
        button["style"] == "danger" and "without an approver" in button["confirm"]["text"]["text"]
    )

    await break_glass(slack, bot, root, REASON)

    # Quorum 2, yet one break-glass settles it: the deploy ran, exactly once.
    assert await deployments(redis) == PROD
    thread = await load_thread(redis, root)
    assert thread.status is Status.DONE
    settled = [m for m in bot_replies(slack, DEPLOYS, root) if "break-glass" in shown_text(m)]
    assert settled and not any(has_buttons(m) for m in settled)
    # The deciders are mentioned in the thread with who broke glass, the call and the reason.
    (text,) = notice(slack, root)
    assert f"<@{BOB}>" in text and f"<!subteam^{SRE}>" in text and f"<@{ALICE}>" in text
    assert REASON in text and "api" in text and "1.4.2" in text
    # Bob, a named user, is sent a DM (besides the request's own DM card); the group is not.
    dms = [m for m in slack.messages if m.channel == dm_with(BOB) and "broke glass" in m.text]
    assert len(dms) == 1 and REASON in dms[0].text
    assert [c.args["channel"] for c in slack.calls_to("chat.postMessage")].count(SRE) == 0
    # The audit log has the break-glass decision with its flag and reason.
    entries = [e async for e in AuditLog(redis).entries()]
    (decision,) = [e for e in entries if e["type"] == "approval_decision"]
    assert decision["event"]["break_glass"] is True and decision["event"]["reason"] == REASON
    assert decision["break_glass"] == {"reason": REASON} and decision["actor"] == ALICE
    # It waits for a review: a gauge counts it.
    metrics = (await bot.services.metrics.render(redis)).decode()
    assert "hitl_break_glass_unreviewed 1.0" in metrics


async def test_an_empty_or_blank_reason_is_refused(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    await slack.click(
        user=ALICE, message=approval_message(slack, DEPLOYS, root), action_id="hitl_break_glass"
    )
    await slack.wait_for(lambda: bool(slack.open_views(ALICE)))
    (modal,) = slack.open_views(ALICE)
    with pytest.raises(IncompleteView):  # Slack's own min_length check
        await slack.submit_view(user=ALICE, view=modal, values={"reason": {"reason": "x"}})
    # Long enough for Slack, but only blanks: the bot refuses it and the form stays open.
    response = await slack.submit_view(
        user=ALICE, view=modal, values={"reason": {"reason": " " * 20}}
    )
    assert response.json()["response_action"] == "errors"
    await bot.settle()
    assert await deployments(redis) == []
    assert has_buttons(approval_message(slack, DEPLOYS, root))


async def test_without_the_policy_there_is_no_button_and_a_forged_click_is_refused(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path, break_glass=False)
    card = approval_message(slack, DEPLOYS, root)
    assert "hitl_break_glass" not in json.dumps(card.blocks)

    # A signed click on the real card, its action forged to Break glass.
    payload = block_actions(
        slack.workspace,
        user=ALICE,
        target=card,
        action_id="hitl_approve",
        trigger_id=slack.workspace.issue_trigger(ALICE),
        response_url=f"{slack.url}/response/{secrets.token_hex(4)}",
    )
    payload["actions"][0]["action_id"] = "hitl_break_glass"
    body = urlencode({"payload": json.dumps(payload)})
    response = await slack.deliver(body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    await bot.settle()
    assert slack.open_views(ALICE) == []
    assert slack.ephemerals[-1].user == ALICE and "isn't allowed" in slack.ephemerals[-1].text
    assert await deployments(redis) == []

    # And a break-glass decision reaching the runtime anyway is refused there too.
    thread = await load_thread(redis, root)
    request = thread.open_request()
    assert request is not None
    ref = card_ref(card)
    await bot.services.queue.enqueue(
        Decide(
            thread_id=thread.id,
            call_id=request.call_id,
            action_hash=ref["action_hash"],
            approved=True,
            user=ALICE,
            reason=REASON,
            break_glass=True,
        )
    )
    await bot.settle()
    assert await deployments(redis) == []
    assert "isn't allowed" in slack.ephemerals[-1].text


async def test_only_the_requester_can_break_glass(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    for user in (BOB, MALLORY):
        await slack.click(
            user=user, message=approval_message(slack, DEPLOYS, root), action_id="hitl_break_glass"
        )
        await bot.settle()
        assert slack.open_views(user) == []
        told = slack.ephemerals[-1]
        assert told.user == user and ONLY_REQUESTER in told.text
        assert f"<@{ALICE}>" in told.text and f"<@{BOB}>" in told.text  # who can approve
    assert await deployments(redis) == []


async def test_a_beneficiary_who_did_not_ask_cannot_break_glass(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    slack.add_user(DANA, "dana")
    path = tmp_path / "policy.yml"
    path.write_text(
        f"rules:\n  - tool: grant_access\n    approvers: [{BOB}]\n    break_glass: true\n"
    )
    bot = await make_bot(hitl_policy_file=path)
    root = await mention(
        slack, f"give <@{DANA}> read access to billing-db for 2 days because she is on call"
    )
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    await slack.click(user=DANA, message=card, action_id="hitl_break_glass")
    await bot.settle()
    assert slack.open_views(DANA) == [] and ONLY_REQUESTER in slack.ephemerals[-1].text

    # Forged past the edge: the runtime refuses the grantee too.
    thread = await load_thread(redis, root)
    request = thread.open_request()
    assert request is not None
    ref = card_ref(card)
    await bot.services.queue.enqueue(
        Decide(
            thread_id=thread.id,
            call_id=request.call_id,
            action_hash=ref["action_hash"],
            approved=True,
            user=DANA,
            reason=REASON,
            break_glass=True,
        )
    )
    await bot.settle()
    assert (await load_thread(redis, root)).open_request() is not None
    assert ONLY_REQUESTER in slack.ephemerals[-1].text


async def test_the_api_cannot_break_glass(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path, hitl_api_token=TOKEN)
    thread = await load_thread(redis, root)
    async with httpx.AsyncClient(base_url=bot.server.url) as client:
        response = await client.post(
            f"/api/threads/{thread.id}/respond",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"user": ALICE, "approved": True, "reason": REASON, "break_glass": True},
        )
    # The API has no break-glass: the field is refused by name (never silently dropped).
    assert response.status_code == 422 and "break_glass" in response.text
    await bot.settle()
    assert await deployments(redis) == []


async def test_a_decider_acknowledges_once_and_the_requester_cannot(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    await break_glass(slack, bot, root, REASON)
    assert (await load_thread(redis, root)).status is Status.DONE

    await slack.click(user=ALICE, message=notice_message(slack, root), action_id="hitl_acknowledge")
    await bot.settle()
    assert slack.ephemerals[-1].user == ALICE and "can't acknowledge" in slack.ephemerals[-1].text
    await slack.click(
        user=MALLORY, message=notice_message(slack, root), action_id="hitl_acknowledge"
    )
    await bot.settle()
    assert slack.ephemerals[-1].user == MALLORY

    # Carol is in the SRE group: she may. A double click records one review.
    card = notice_message(slack, root)
    await slack.click(user=CAROL, message=card, action_id="hitl_acknowledge")
    await slack.click(user=CAROL, message=card, action_id="hitl_acknowledge")
    await bot.settle()
    thread = await load_thread(redis, root)
    assert [e.user for e in thread.events if isinstance(e, BreakGlassReviewed)] == [CAROL]
    # The ack came after the run was done: it is still done, the request still approved.
    assert thread.status is Status.DONE
    decision = next(e for e in thread.events if isinstance(e, ApprovalDecision))
    request = thread.call(decision.call_id)
    assert request is not None
    outcome = thread.outcome(request)
    assert outcome is not None and outcome.kind == "approved" and outcome.break_glass
    assert f"Reviewed by <@{CAROL}>" in shown_text(notice_message(slack, root))
    assert not has_buttons(notice_message(slack, root))
    assert await deployments(redis) == PROD
    entries = [e async for e in AuditLog(redis).entries()]
    assert [e["actor"] for e in entries if e["type"] == "break_glass_reviewed"] == [CAROL]
    metrics = (await bot.services.metrics.render(redis)).decode()
    assert "hitl_break_glass_unreviewed 0.0" in metrics


async def test_threads_show_names_an_unreviewed_break_glass(
    slack: SlackEmulator,
    make_bot: MakeBot,
    redis: Redis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    await break_glass(slack, bot, root, REASON)
    thread = await load_thread(redis, root)
    await _inspect(argparse.Namespace(verb="show", thread_id=thread.id), ThreadStore(redis))
    out = capsys.readouterr().out
    assert "UNREVIEWED BREAK-GLASS" in out and ALICE in out and REASON in out


async def test_the_review_reminder_goes_to_the_deciders_until_acknowledged(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    await break_glass(slack, bot, root, REASON)
    deadlines = Deadlines(redis)
    assert await deadlines.unreviewed() == 1
    # Fire the review reminder now instead of waiting out the rule's timeout.
    await deadlines.fire_due(utcnow() + timedelta(days=2))
    await bot.settle()
    reminders = [m for m in bot_replies(slack, DEPLOYS, root) if "still has not been" in m.text]
    assert len(reminders) == 1 and f"<@{BOB}>" in reminders[0].text
    assert await deadlines.unreviewed() == 1  # planned again
    assert (await load_thread(redis, root)).status is Status.DONE

    await slack.click(user=BOB, message=notice_message(slack, root), action_id="hitl_acknowledge")
    await bot.settle()
    assert await deadlines.unreviewed() == 0


async def test_slack_failing_once_on_the_notice_and_the_dm_is_retried(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    bot, root = await started(slack, make_bot, tmp_path)
    slack.fail("chat.postMessage", channel=DEPLOYS)
    slack.fail("chat.postMessage", channel=dm_with(BOB))
    await break_glass(slack, bot, root, REASON)
    # The run does not wait for the messages: the deploy ran.
    assert await deployments(redis) == PROD

    def bob_dms() -> int:
        dms = [m for m in slack.messages if m.channel == dm_with(BOB)]
        return len([m for m in dms if "broke glass" in m.text])

    # The outbox retries after about a second (then two): run the worker until both landed.
    for _ in range(40):
        if bob_dms() == 1:
            break
        await asyncio.sleep(0.25)
        await bot.settle()
    assert len(notice(slack, root)) == 1 and bob_dms() == 1
    assert len([c for c in slack.calls_to("chat.postMessage") if c.fault]) == 2
