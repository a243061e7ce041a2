"""Deadlines, reminders, questions with answer buttons and escalation to on-call."""

from __future__ import annotations

import copy
from datetime import timedelta

from redis.asyncio import Redis

from agents.models.scripted import ScriptedModel
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    mention,
    shown_text,
)

INCIDENTS = "C0INCIDENTS"


async def fire_deadlines(redis: Redis, *, after: timedelta) -> int:
    """Fire what is due `after` from now, as a worker whose clock got there would."""
    return await Deadlines(redis).fire_due(utcnow() + after)


async def test_an_expired_approval_never_runs_and_says_so(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_approval_timeout=600)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    stale = copy.deepcopy(approval)

    assert await fire_deadlines(redis, after=timedelta(seconds=300)) == 0
    assert await fire_deadlines(redis, after=timedelta(seconds=481)) == 1  # the reminder at 80%
    await bot.settle()
    reminder = bot_replies(slack, DEPLOYS, root)[-1]
    assert "still waiting" in reminder.text and f"<@{BOB}>" in reminder.text

    assert await fire_deadlines(redis, after=timedelta(seconds=601)) == 1
    await bot.settle()
    expired = slack.find_message(DEPLOYS, approval.ts)
    assert not has_buttons(expired) and "Expired" in shown_text(expired)
    assert "nothing was deployed" in bot_replies(slack, DEPLOYS, root)[-1].text

    await slack.click(user=BOB, message=stale, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == []
    assert "Expired" in slack.ephemerals[-1].text


async def test_a_decision_before_the_deadline_cancels_the_expiry(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    replies = len(bot_replies(slack, DEPLOYS, root))

    assert await fire_deadlines(redis, after=timedelta(days=1)) == 0  # both were cancelled
    await bot.settle()
    assert len(bot_replies(slack, DEPLOYS, root)) == replies  # both found nothing to do
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_a_question_with_options_is_answered_by_a_button(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    model = ScriptedModel(
        {
            "intent": "request_input",
            "question": "Which environment?",
            "options": ["staging", "production"],
        },
        lambda request: (
            '{"intent": "done_for_now", "message": "You picked staging."}'
            if "text: staging" in request.context
            else '{"intent": "done_for_now", "message": "unexpected"}'
        ),
    )
    bot = await make_bot(model=model)
    root = await mention(slack, "deploy api 1.4.2")
    await bot.settle()
    question = bot_replies(slack, DEPLOYS, root)[-1]
    assert "Which environment?" in shown_text(question)

    await slack.click(user=MALLORY, message=question, action_id="hitl_answer:0")
    await bot.settle()
    assert slack.ephemerals[-1].user == MALLORY and "can't" in slack.ephemerals[-1].text
    assert has_buttons(slack.find_message(DEPLOYS, question.ts))

    await slack.click(user=ALICE, message=question, action_id="hitl_answer:0")
    await bot.settle()
    answered = slack.find_message(DEPLOYS, question.ts)
    assert not has_buttons(answered) and f"Answered by <@{ALICE}>" in shown_text(answered)
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "You picked staging."


async def test_escalation_pages_on_call_and_waits_for_whoever_takes_it(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    model = ScriptedModel(
        {"intent": "escalate", "reason": "checkout returns 500s since 14:02", "urgency": "high"},
        lambda request: (
            '{"intent": "done_for_now", "message": "Carol is handling it."}'
            if "escalation_taken" in request.context and "roll back" in request.context
            else '{"intent": "done_for_now", "message": "unexpected"}'
        ),
    )
    bot = await make_bot(model=model, hitl_escalation_channel=INCIDENTS, hitl_oncall=CAROL)
    root = await mention(slack, "checkout is down!")
    await bot.settle()

    (paged,) = [m for m in slack.messages if m.channel == INCIDENTS]
    page = shown_text(paged)
    assert "checkout returns 500s" in page and f"<@{CAROL}>" in page
    assert f"/archives/{DEPLOYS}/p{root.replace('.', '')}" in page  # a link to the thread
    assert "asked on-call" in bot_replies(slack, DEPLOYS, root)[-1].text

    await slack.click(user=MALLORY, message=paged, action_id="hitl_take")
    await bot.settle()
    assert slack.ephemerals[-1].channel == INCIDENTS and slack.ephemerals[-1].user == MALLORY

    await slack.click(user=CAROL, message=paged, action_id="hitl_take")
    await bot.settle()
    assert f"Taken by <@{CAROL}>" in shown_text(slack.find_message(INCIDENTS, paged.ts))
    assert f"<@{CAROL}> is on it" in bot_replies(slack, DEPLOYS, root)[-1].text

    await slack.post_message(user=BOB, channel=DEPLOYS, text="I'd roll back", thread_ts=root)
    await bot.settle()
    assert len(model.requests) == 1  # still waiting for Carol, not Bob
    await slack.post_message(user=CAROL, channel=DEPLOYS, text="roll back to 1.4.1", thread_ts=root)
    await bot.settle()
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "Carol is handling it."
