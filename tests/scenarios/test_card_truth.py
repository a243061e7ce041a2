"""The card shows the truth: an approval card, its confirm dialog, its notification text and its
reject form state the exact call as code renders it from the arguments; a (possibly lying or
prompt-injected) model's summary appears only labelled as the model's words; no model or user
text can mention anyone or build a link anywhere the bot shows it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis.asyncio import Redis

from agents.models.scripted import ScriptedModel
from bot.emulator.server import SlackEmulator
from bot.emulator.state import Message
from tests.conftest import BOB, CAROL, DEPLOYS, MakeBot
from tests.support import (
    DANA,
    OWNERS,
    approval_message,
    bot_replies,
    deployments,
    mention,
    reject,
    shown_text,
)

PROD = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}
LIE = "Deploy docs to staging"
MODEL_LABEL = "_Model's summary:_"
HOSTILE = "<!channel> <!here> <!subteam^S1> <@U0X> <https://evil.example|click> & co"
RAW_TOKENS = ("<!channel>", "<!here>", "<!subteam^S1>", "<@U0X>", "<https://evil")


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every text Slack parses for mentions and links (plain_text is never parsed)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def parsed_texts(message: Message) -> list[str]:
    """A message's notification text and every mrkdwn text of its blocks."""
    return [message.text or "", *mrkdwn_texts(message.blocks)]


def confirm_text(card: Message) -> str:
    (approve,) = [
        e
        for b in card.blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "hitl_approve"
    ]
    return str(approve["confirm"]["text"]["text"])


def main_text(card: Message) -> str:
    """The card's section: its text and its fields, what a reader takes as the description."""
    (section,) = [b for b in card.blocks or [] if b["type"] == "section"]
    return "\n".join([section["text"]["text"], *(f["text"] for f in section.get("fields", []))])


def context_texts(card: Message) -> list[str]:
    return [e["text"] for b in card.blocks or [] if b["type"] == "context" for e in b["elements"]]


def assert_escaped(texts: list[str]) -> None:
    for text in texts:
        for raw in RAW_TOKENS:
            assert raw not in text, text


async def test_a_lying_summary_is_labelled_and_the_card_states_the_real_call(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    model = ScriptedModel(
        {"intent": "request_approval", "action": PROD, "summary": LIE},
        {"intent": "done_for_now", "message": "Deployed."},
    )
    bot = await make_bot(model=model)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()

    card = approval_message(slack, DEPLOYS, root)
    real = "Deploy api 1.4.2 to production"
    assert real in main_text(card) and LIE not in main_text(card)
    for label, value in [("Service", "api"), ("Version", "1.4.2"), ("Environment", "production")]:
        assert f"*{label}*\n{value}" in main_text(card)
    assert real in confirm_text(card) and LIE not in confirm_text(card)
    assert real in (card.text or "") and LIE not in (card.text or "")
    # The lie is shown, once, as the model's words.
    assert [t for t in parsed_texts(card) if LIE in t] == [f"{MODEL_LABEL} {LIE}"]
    assert f"{MODEL_LABEL} {LIE}" in context_texts(card)

    await slack.click(user=BOB, message=card, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    settled = approval_message_settled(slack, root)
    assert real in main_text(settled) and LIE not in main_text(settled)


def approval_message_settled(slack: SlackEmulator, root: str) -> Message:
    """The approval card after its decision (no buttons left): the one with a header."""
    (card,) = [
        m
        for m in bot_replies(slack, DEPLOYS, root)
        if any(b["type"] == "header" for b in m.blocks or [])
    ]
    return card


async def test_mentions_in_summary_and_justification_are_escaped_in_every_message(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    grant = {
        "intent": "grant_access",
        "user": DANA,
        "resource": "billing-db",
        "level": "read",
        "duration_hours": 48,
        "justification": HOSTILE,
    }
    model = ScriptedModel(
        {"intent": "request_approval", "action": grant, "summary": f"Routine {HOSTILE}"},
        lambda request: '{"intent": "done_for_now", "message": "Not granted: ' + HOSTILE + '"}',
    )
    bot = await make_bot(model=model, hitl_resource_owners=OWNERS)
    root = await mention(slack, f"give <@{DANA}> read access to billing-db for 2 days")
    await bot.settle()

    card = approval_message(slack, DEPLOYS, root)
    # The grantee is a live mention, the duration readable, every field labelled for people.
    assert f"Grant <@{DANA}> read access to billing-db for 2 days" in main_text(card)
    for label, value in [("Who", f"<@{DANA}>"), ("Duration", "2 days"), ("Level", "read")]:
        assert f"*{label}*\n{value}" in main_text(card)
    assert "*Justification*\n&lt;!channel&gt;" in main_text(card)
    assert "duration_hours" not in shown_text(card).lower().replace(" ", "_")
    assert f"<@{DANA}>" in confirm_text(card) and "2 days" in confirm_text(card)
    assert_escaped([*parsed_texts(card), confirm_text(card)])

    # The reject form names the real call, escaped too.
    await reject(slack, user=CAROL, message=card, reason=f"no {HOSTILE}")
    await bot.settle()
    (form,) = [v for v in slack.views if v.user == CAROL]
    form_texts = list(mrkdwn_texts(form.blocks))
    assert any(f"Grant <@{DANA}> read access" in t for t in form_texts)
    assert_escaped(form_texts)

    # Every message the bot posted in the thread: the settled card, the final reply.
    replies = bot_replies(slack, DEPLOYS, root)
    assert any("Not granted" in (m.text or "") for m in replies)
    for message in replies:
        assert_escaped(parsed_texts(message))
    assert_escaped([e.text or "" for e in slack.ephemerals])


async def test_a_rollback_without_a_version_shows_the_previous_version_never_none(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    rollback = {"intent": "rollback", "service": "api", "environment": "production"}
    model = ScriptedModel(
        {"intent": "request_approval", "action": rollback, "summary": "Roll back api"},
    )
    bot = await make_bot(model=model)
    root = await mention(slack, "roll back api in production")
    await bot.settle()

    card = approval_message(slack, DEPLOYS, root)
    assert "Roll back api in production to the previous version" in main_text(card)
    assert "*To version*\nthe previous version" in main_text(card)
    assert "*Reason*\nnot given" in main_text(card)
    assert "None" not in shown_text(card) and "None" not in confirm_text(card)
