"""Messages tell the truth (issue 13, item 5): a settled card's header says how it ended, an
edited call shows its new arguments, every vote of a quorum is named, refusals say who can
decide, text in a thread that waits for a request is answered privately, and people never see
a regular expression, pydantic's wording or a raw `<`."""

from __future__ import annotations

import re
from pathlib import Path

from redis.asyncio import Redis

from bot.emulator.server import SlackEmulator
from bot.emulator.state import Message
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    mention,
    reject,
    shown_text,
)

DAVE = "U0DAVE"
SRE = "S0SRE"
QUORUM_OF_THREE = """
rules:
  - tool: deploy
    when: {environment: production}
    approvers: [U0BOB, U0CAROL, U0DAVE]
    quorum: 3
"""
PENDING = "An approval is pending: "


def header(card: Message) -> str:
    (block,) = [b for b in card.blocks if b["type"] == "header"]
    return str(block["text"]["text"])


def main_text(card: Message) -> str:
    (section,) = [b for b in card.blocks if b["type"] == "section"]
    return "\n".join([section["text"]["text"], *(f["text"] for f in section.get("fields", []))])


def settled_card(slack: SlackEmulator, root: str) -> Message:
    (card,) = [
        m for m in bot_replies(slack, DEPLOYS, root) if any(b["type"] == "header" for b in m.blocks)
    ]
    return card


async def test_a_settled_card_says_how_it_ended_in_its_header_and_fallback(
    slack: SlackEmulator, bot: BotProcess
) -> None:
    approved = await mention(slack, "deploy api 1.4.2 to production")
    rejected = await mention(slack, "deploy web 1.4.0 to production")
    await bot.settle()
    assert header(approval_message(slack, DEPLOYS, approved)) == "Approval needed"

    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, approved), action_id="hitl_approve"
    )
    await reject(
        slack, user=CAROL, message=approval_message(slack, DEPLOYS, rejected), reason="freeze"
    )
    await bot.settle()

    card = settled_card(slack, approved)
    assert header(card) == "✅ Approved"
    assert card.text.startswith("✅ Approved: Deploy api 1.4.2 to production")
    card = settled_card(slack, rejected)
    assert header(card) == "❌ Rejected"
    assert card.text.startswith("❌ Rejected: Deploy web 1.4.0 to production")
    for root in (approved, rejected):
        assert "Approval needed" not in shown_text(settled_card(slack, root))


async def test_an_edited_call_shows_its_new_arguments_once_approved(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(BOB)))
    (modal,) = slack.open_views(BOB)
    await slack.submit_view(user=BOB, view=modal, values={"version": {"version": "1.4.1"}})
    await bot.settle()

    assert await deployments(redis) == [("api", "1.4.1", "production")]
    card = settled_card(slack, root)
    # What ran is what the card shows; the edit line keeps what was asked.
    assert "Deploy api 1.4.1 to production" in main_text(card)
    assert "*Version*\n1.4.1" in main_text(card) and "1.4.2" not in main_text(card)
    assert "1.4.2 → 1.4.1" in shown_text(card)
    assert "1.4.1" in card.text and "1.4.2" not in card.text


async def test_every_vote_of_a_quorum_is_listed(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(QUORUM_OF_THREE)
    slack.add_user(DAVE, "dave")
    bot = await make_bot(hitl_policy_file=policy)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    for voter in (BOB, CAROL):
        await slack.click(user=voter, message=card, action_id="hitl_approve")
        await bot.settle()
    open_card = slack.find_message(DEPLOYS, card.ts)
    assert f"Approved by <@{BOB}> and <@{CAROL}> (2 of 3)" in shown_text(open_card)

    await slack.click(user=DAVE, message=card, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    done = shown_text(slack.find_message(DEPLOYS, card.ts))
    assert f"Approved by <@{BOB}>, <@{CAROL}> and <@{DAVE}> on <!date^" in done


async def test_times_are_slack_date_tokens_and_help_text_is_escaped(
    slack: SlackEmulator, bot: BotProcess
) -> None:
    """Regression: already true on main (issue 12 made cards code-rendered and escaped)."""
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    shown = shown_text(approval_message(slack, DEPLOYS, root))
    assert re.search(r"expires <!date\^\d+\^\{date_short_pretty\}[^|]*\|[^>]+ UTC>", shown)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", shown)  # no ISO timestamp

    confused = await mention(slack, "deploy")
    await bot.settle()
    (reply,) = bot_replies(slack, DEPLOYS, confused)
    assert "`deploy api 1.4.2 to production`" in reply.text  # examples, not placeholders
    assert "<service>" not in shown_text(reply) and "&lt;" not in reply.text


async def test_a_refused_approver_is_told_who_can_decide(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    slack.add_usergroup(SRE, [CAROL])
    bot = await make_bot(approvers=frozenset({SRE}))
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=MALLORY, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    (told,) = slack.ephemerals
    assert told.user == MALLORY
    assert told.text.endswith(f"<!subteam^{SRE}> can approve it.")
    assert await deployments(redis) == []


async def test_text_in_a_thread_waiting_for_an_approval_gets_a_private_answer(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api to production")
    await bot.settle()
    # An answer to the bot's question is taken, and nobody is told anything.
    await slack.post_message(user=ALICE, channel=DEPLOYS, text="1.4.2", thread_ts=root)
    await bot.settle()
    card = approval_message(slack, DEPLOYS, root)
    assert slack.ephemerals == []

    await slack.post_message(
        user=ALICE, channel=DEPLOYS, text="actually make it 1.4.1", thread_ts=root
    )
    await bot.settle()
    (told,) = slack.ephemerals
    assert (told.user, told.channel, told.thread_ts) == (ALICE, DEPLOYS, root)
    assert told.text.startswith(PENDING) and "*Reject* withdraws it" in told.text
    assert f"<@{BOB}>" in told.text and f"<@{CAROL}>" in told.text and " or " in told.text

    # A mention of the bot is text too; another app's message is nobody's to tell.
    await mention_in(slack, root, "cancel this", user=BOB)
    await slack.post_bot_message(channel=DEPLOYS, text="CI is green", thread_ts=root)
    await bot.settle()
    assert [(e.user, e.text.startswith(PENDING)) for e in slack.ephemerals] == [
        (ALICE, True),
        (BOB, True),
    ]
    # A decider who writes is reminded that they can decide, too.
    assert f"<@{BOB}>" in slack.ephemerals[-1].text
    assert has_open_card(slack, card) and await deployments(redis) == []


async def mention_in(slack: SlackEmulator, root: str, text: str, *, user: str) -> None:
    delivery = await slack.post_message(
        user=user,
        channel=DEPLOYS,
        text=f"<@{slack.identity.bot_user_id}> {text}",
        thread_ts=root,
    )
    assert all(r.status_code == 200 for r in delivery.responses)


def has_open_card(slack: SlackEmulator, card: Message) -> bool:
    return any(b["type"] == "actions" for b in slack.find_message(DEPLOYS, card.ts).blocks)


async def test_edit_form_errors_are_one_sentence_per_field(
    slack: SlackEmulator, bot: BotProcess
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(BOB)))
    (modal,) = slack.open_views(BOB)
    values = {"version": {"version": "latest"}, "service": {"service": "API!"}}
    response = await slack.submit_view(user=BOB, view=modal, values=values)
    errors = response.json()["errors"]
    assert set(errors) == {"version", "service"}
    assert errors["version"].startswith("Version isn't valid. Expected: Semantic version")
    for text in errors.values():
        assert "pattern" not in text and "^" not in text and "String should" not in text
