"""Interactions count only on what the bot showed (issue 12, item 7).

A click decides only on the message that shows the request now (the delivery ledger's channel
and ts); a click whose container is another message, or an ephemeral copy, is refused with an
ephemeral and decides nothing. A form counts only if the bot opened it for that person about
that request; an altered `private_metadata`, an unknown view or someone else's view is refused
on the form. Every payload here goes through the real Bolt app, signed like Slack's."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator.server import Message, SlackEmulator
from bot.emulator.state import Ephemeral
from bot.slack import blocks, messages
from tests.conftest import BOB, BOT_TOKEN, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    shown_text,
)

FORM = "application/x-www-form-urlencoded"
QUORUM_POLICY = """
rules:
  - tool: deploy
    when: {environment: production}
    approvers: [U0BOB, U0CAROL, U0DAVE]
    quorum: 2
"""


def out_of_date(slack: SlackEmulator, user: str) -> bool:
    return any(e.user == user and e.text == messages.CARD_OUT_OF_DATE for e in slack.ephemerals)


async def decided(redis: Redis, root: str) -> bool:
    thread = await load_thread(redis, root)
    return any(e.type == "approval_decision" for e in thread.events)


async def signed(slack: SlackEmulator, payload: dict[str, Any]) -> int:
    """Deliver an interactivity payload signed with the app's signing secret."""
    body = urlencode({"payload": json.dumps(payload)})
    return (await slack.deliver(body, content_type=FORM)).status_code


# --- clicks -----------------------------------------------------------------------------------


async def test_a_click_on_another_message_decides_nothing_and_says_the_card_is_out_of_date(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    # The card's buttons, clicked on another message of the channel (the mention itself).
    elsewhere = copy.deepcopy(card)
    elsewhere.ts = root
    await slack.click(user=BOB, message=elsewhere, action_id="hitl_approve")
    await bot.settle()
    assert not await decided(redis, root)
    assert await deployments(redis) == []
    assert out_of_date(slack, BOB)
    assert has_buttons(slack.find_message(DEPLOYS, card.ts))
    # The card itself still works.
    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_a_click_on_an_ephemeral_copy_of_the_card_decides_nothing(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    # An ephemeral the bot did post (Mallory is told she may not approve), then the card's
    # buttons clicked "on it": the bot never shows a request in an ephemeral.
    await slack.click(user=MALLORY, message=card, action_id="hitl_approve")
    await bot.settle()
    told = next(e for e in slack.ephemerals if e.user == MALLORY)
    copied = Ephemeral(DEPLOYS, BOB, told.text, told.ts, copy.deepcopy(card.blocks), root)
    slack.workspace.ephemerals.append(copied)
    await slack.click(user=BOB, message=copied, action_id="hitl_approve")
    await bot.settle()
    assert not await decided(redis, root)
    assert await deployments(redis) == []
    assert out_of_date(slack, BOB)


async def test_a_click_with_a_forged_container_decides_nothing(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    button = next(
        e
        for b in card.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == blocks.APPROVE_ACTION
    )
    payload = {
        "type": "block_actions",
        "user": {"id": BOB},
        "channel": {"id": DEPLOYS},
        "container": {"type": "message", "channel_id": "C0ELSEWHERE", "message_ts": card.ts},
        "trigger_id": "1.2.3",
        "actions": [{"type": "button", "action_id": blocks.APPROVE_ACTION} | button],
    }
    assert await signed(slack, payload) == 200
    await bot.settle()
    assert not await decided(redis, root)
    assert await deployments(redis) == []


async def test_taking_a_page_from_another_message_takes_nothing(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_oncall=CAROL)
    root = await mention(slack, "checkout is returning 500s")
    await bot.settle()
    (page,) = [m for m in bot_replies(slack, DEPLOYS, root) if has_buttons(m)]
    elsewhere = copy.deepcopy(page)
    elsewhere.ts = root
    await slack.click(user=CAROL, message=elsewhere, action_id="hitl_take")
    await bot.settle()
    thread = await load_thread(redis, root)
    assert not [e for e in thread.events if e.type == "escalation_taken"]
    assert out_of_date(slack, CAROL)
    await slack.click(user=CAROL, message=page, action_id="hitl_take")
    await bot.settle()
    thread = await load_thread(redis, root)
    assert [e.user for e in thread.events if e.type == "escalation_taken"] == [CAROL]


async def test_a_reposted_card_counts_and_the_card_it_replaced_does_not(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(QUORUM_POLICY)
    bot = await make_bot(hitl_policy_file=policy)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    first = approval_message(slack, DEPLOYS, root)
    slack.refuse("chat.update", "message_not_found", times=1)  # the vote's update: re-posted
    await slack.click(user=BOB, message=first, action_id="hitl_approve")
    await bot.settle()
    reposted = [m for m in bot_replies(slack, DEPLOYS, root) if has_buttons(m)]
    assert [m.ts for m in reposted if m.ts != first.ts], "the card was not posted again"
    newest = reposted[-1]

    await slack.click(user=CAROL, message=first, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == []
    assert out_of_date(slack, CAROL)

    await slack.click(user=CAROL, message=newest, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_the_plain_text_card_counts(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.refuse("chat.postMessage", "invalid_blocks", times=1)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    plain = approval_message(slack, DEPLOYS, root)
    await slack.click(user=BOB, message=plain, action_id="hitl_approve")
    await bot.settle()
    assert not out_of_date(slack, BOB)
    assert await deployments(redis) == [("api", "1.4.2", "production")]


# --- forms ------------------------------------------------------------------------------------


async def open_reject_form(slack: SlackEmulator, user: str, card: Message) -> Any:
    await slack.click(user=user, message=card, action_id="hitl_reject")
    await slack.wait_for(lambda: bool(slack.open_views(user)))
    (view,) = slack.open_views(user)
    return view


async def test_a_form_with_altered_private_metadata_is_refused_on_the_form(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    first = await mention(slack, "deploy api 1.4.2 to production")
    second = await mention(slack, "deploy web 2.0.0 to production")
    await bot.settle()
    first_card = approval_message(slack, DEPLOYS, first)
    second_card = approval_message(slack, DEPLOYS, second)
    second_value = next(
        e["value"] for b in second_card.blocks if b["type"] == "actions" for e in b["elements"]
    )
    view = await open_reject_form(slack, BOB, first_card)
    view.private_metadata = second_value  # the form now claims to be about the other request
    response = await slack.submit_view(user=BOB, view=view, values={"reason": {"reason": "no"}})
    assert response.status_code == 200
    await bot.settle()
    assert not await decided(redis, first)
    assert not await decided(redis, second)
    assert json.loads(response.content)["errors"] == {"reason": messages.FORM_NOT_OURS}
    assert view.errors == {"reason": messages.FORM_NOT_OURS}  # the form stays open
    assert has_buttons(slack.find_message(DEPLOYS, second_card.ts))


async def test_a_submission_of_a_view_the_bot_did_not_open_is_refused(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    view = await open_reject_form(slack, BOB, card)
    state = {"reason": {"reason": {"type": "plain_text_input", "value": "forged"}}}
    opened = slack.workspace.slack_view(view, state)
    forged_views = [
        opened | {"id": "V0FORGED", "external_id": ""},  # a view the bot never opened
        opened | {"external_id": "hitl-guessed"},  # an id the bot never gave
    ]
    for forged in forged_views:
        payload = {"type": "view_submission", "user": {"id": BOB}, "view": forged}
        assert await signed(slack, payload) == 200
    # The real form, submitted as someone else (Carol, an approver, never opened it).
    payload = {"type": "view_submission", "user": {"id": CAROL}, "view": opened}
    assert await signed(slack, payload) == 200
    await bot.settle()
    assert not await decided(redis, root)
    assert has_buttons(slack.find_message(DEPLOYS, card.ts))

    # Bob's own form still works, once.
    response = await slack.submit_view(user=BOB, view=view, values={"reason": {"reason": "no"}})
    assert response.status_code == 200 and not response.content.strip()
    await bot.settle()
    assert "Rejected by" in shown_text(slack.find_message(DEPLOYS, card.ts))
    assert await deployments(redis) == []
    replay = {"type": "view_submission", "user": {"id": BOB}, "view": opened}
    assert await signed(slack, replay) == 200
    await bot.settle()
    thread = await load_thread(redis, root)
    assert len([e for e in thread.events if e.type == "approval_decision"]) == 1


# --- Slack answering too late -----------------------------------------------------------------


async def test_a_card_post_slack_makes_after_the_bot_gave_up_shows_the_outcome_too(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    """Slack answers the card's post too late (the client gives up after 1 s); finding no
    post, the bot posts the card again. Slack then makes the first try after all (the
    emulator's stall drops a call whose client left, so the test posts that copy with the
    bot's token, as Slack would: same blocks, same delivery tag). Its buttons decide nothing,
    and once the request settles it shows the outcome like the card the bot knows."""
    bot = await make_bot(hitl_slack_timeout=1)
    slack.stall("chat.postMessage", seconds=3)  # the first post: the card
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    for _ in range(20):  # the planned retry posts it again
        if any(has_buttons(m) for m in bot_replies(slack, DEPLOYS, root)):
            break
        await asyncio.sleep(0.2)
        await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    await client.chat_postMessage(
        channel=DEPLOYS, thread_ts=root, text=card.text, blocks=card.blocks, metadata=card.metadata
    )
    late = [m for m in bot_replies(slack, DEPLOYS, root) if has_buttons(m) and m.ts != card.ts]
    assert len(late) == 1

    await slack.click(user=BOB, message=late[0], action_id="hitl_approve")
    await bot.settle()
    assert not await decided(redis, root)
    assert out_of_date(slack, BOB)

    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert [m.ts for m in bot_replies(slack, DEPLOYS, root) if has_buttons(m)] == []
    assert "Approved by" in shown_text(slack.find_message(DEPLOYS, late[0].ts))


async def test_a_card_whose_post_slack_has_not_answered_yet_counts_and_only_it(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    """Slack shows the card but its answer to the post is late, so the bot does not know the
    card's ts yet: Slack is asked what the clicked message is. The card counts; the card's
    buttons on any other message (the mention, here) still do not."""
    bot = await make_bot(hitl_slack_timeout=1)
    slack.stall("chat.postMessage", seconds=6, after=True)  # posted at once, answered late
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    elsewhere = copy.deepcopy(card)
    elsewhere.ts = root
    await slack.click(user=BOB, message=elsewhere, action_id="hitl_approve")
    await bot.settle()
    assert not await decided(redis, root)
    assert out_of_date(slack, BOB)

    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert await decided(redis, root)
    for _ in range(40):  # the planned delivery retry finds the card and shows the outcome
        if not has_buttons(slack.find_message(DEPLOYS, card.ts)):
            break
        await asyncio.sleep(0.2)
        await bot.settle()
    assert not has_buttons(slack.find_message(DEPLOYS, card.ts))
    assert await deployments(redis) == [("api", "1.4.2", "production")]
