"""Slack-native entry points: live status lines, /hitl and the "Ask hitl about this" shortcut,
through signed requests from the Slack emulator, the real Bolt app and real Redis."""

from __future__ import annotations

from redis.asyncio import Redis

from agents.runtime.events import UserMessage
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess
from tests.support import approval_message, bot_replies, deployments, mention, shown_text

SET_STATUS = "assistant.threads.setStatus"


def statuses(slack: SlackEmulator) -> list[str]:
    return [str(c.args.get("status")) for c in slack.calls_to(SET_STATUS)]


async def test_the_status_line_says_what_runs_and_is_cleared_at_the_card_and_at_the_end(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()

    shown = statuses(slack)
    # The model decides, the version is checked, the model decides again; cleared at the card.
    assert shown == ["is thinking…", "is checking versions of api…", "is thinking…", ""]
    assert slack.status(DEPLOYS, root) == ""
    assert slack.calls_to("reactions.add") == []  # the status line replaced the ⏳

    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    after = statuses(slack)[len(shown) :]
    assert after[0] == "is deploying api 1.4.2 to production…"
    assert after[-1] == "" and slack.status(DEPLOYS, root) == ""  # cleared when done
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_a_refused_status_line_falls_back_to_the_hourglass_once(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.refuse(SET_STATUS, "not_allowed")
    root = await mention(slack, "deploy web 2.0.1 to staging")
    await bot.settle()

    assert len(slack.calls_to(SET_STATUS)) == 1  # refused once, not asked again each step
    assert [c.args["timestamp"] for c in slack.calls_to("reactions.add")] == [root]
    assert [c.args["name"] for c in slack.calls_to("reactions.remove")] == [
        "hourglass_flowing_sand"
    ]
    assert await deployments(redis) == [("web", "2.0.1", "staging")]


async def test_a_failing_status_line_never_stops_the_run(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.fail(SET_STATUS, status=503, times=None)
    root = await mention(slack, "deploy web 2.0.1 to staging")
    await bot.settle()

    assert len(slack.calls_to(SET_STATUS)) >= 2  # tried again later: not a refusal
    assert slack.calls_to("reactions.add") == []
    assert await deployments(redis) == [("web", "2.0.1", "staging")]
    assert "2.0.1" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_hitl_deploy_posts_the_request_and_reaches_the_approval_card(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    response = await slack.slash_command(
        user=ALICE, channel=DEPLOYS, text="deploy api 1.4.2 to production"
    )
    assert response.status_code == 200
    (posted,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    assert posted.text == "<@U0ALICE> asked: deploy api 1.4.2 to production"
    assert "Started in <#C0DEPLOYS>" in slack.ephemerals[-1].text
    await bot.settle()

    card = approval_message(slack, DEPLOYS, posted.ts)
    assert "api" in shown_text(card) and "1.4.2" in shown_text(card)
    thread = await ThreadStore(redis).load(
        thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=posted.ts))
    )
    assert thread is not None and thread.requester == ALICE
    assert thread.status is Status.WAITING_APPROVAL


async def test_hitl_in_a_channel_the_bot_is_not_in_gives_the_request_back(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    slack.refuse("chat.postMessage", "not_in_channel", channel="C0GENERAL")
    await slack.slash_command(user=ALICE, channel="C0GENERAL", text="deploy api 1.4.2 to staging")
    await bot.settle()

    (told,) = [e for e in slack.ephemerals if e.user == ALICE]
    assert "can't post in <#C0GENERAL>" in told.text
    assert "/hitl deploy api 1.4.2 to staging" in told.text  # nothing lost
    assert await ThreadStore(redis).thread_ids() == []


async def test_hitl_inbox_lists_what_the_user_may_decide_and_not_their_own(
    slack: SlackEmulator, bot: BotProcess
) -> None:
    await mention(slack, "deploy api 1.4.2 to production", user=ALICE)
    await mention(slack, "deploy web 1.4.1 to production", user=BOB)
    await bot.settle()

    await slack.slash_command(user=BOB, channel=DEPLOYS, text="inbox")
    bobs = slack.ephemerals[-1].text
    assert "Deploy api 1.4.2 to production" in bobs and "<@U0ALICE>" in bobs
    assert "web 1.4.1" not in bobs  # Bob's own request

    await slack.slash_command(user=CAROL, channel=DEPLOYS, text="inbox")
    carols = slack.ephemerals[-1].text
    assert "api 1.4.2" in carols and "web 1.4.1" in carols

    await slack.slash_command(user=MALLORY, channel=DEPLOYS, text="inbox")
    assert "Nothing waits for your decision" in slack.ephemerals[-1].text


async def test_hitl_help_empty_and_unknown_answer_with_help(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    for text in ("help", "", "frobnicate"):
        await slack.slash_command(user=ALICE, channel=DEPLOYS, text=text)
        shown = slack.ephemerals[-1].text
        assert "/hitl inbox" in shown and "<service>" not in shown
    assert "I don't know `frobnicate`" in shown
    assert [m for m in slack.messages] == []
    assert await ThreadStore(redis).thread_ids() == []


async def test_the_shortcut_asks_what_to_do_and_starts_a_thread_with_the_message_as_context(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    said = await slack.post_message(
        user=CAROL, channel=DEPLOYS, text="api 1.4.2 fixes the login bug, can someone ship it?"
    )
    message = said.message
    response = await slack.shortcut(user=ALICE, message=message, callback_id="ask_hitl")
    assert response.status_code == 200
    (modal,) = slack.open_views(ALICE)
    answer = await slack.submit_view(
        user=ALICE, view=modal, values={"what": {"what": "deploy api 1.4.2 to production"}}
    )
    assert answer.status_code == 200
    await bot.settle()

    replies = bot_replies(slack, DEPLOYS, message.ts)
    assert replies[0].text.startswith("<@U0ALICE> asked about this message:")
    thread = await ThreadStore(redis).load(
        thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=message.ts))
    )
    assert thread is not None and thread.requester == ALICE
    first = thread.events[0]
    assert isinstance(first, UserMessage) and first.user == ALICE
    assert first.text.startswith("deploy api 1.4.2 to production\n\nAbout this message from")
    assert "> api 1.4.2 fixes the login bug, can someone ship it?" in first.text
    assert f"<@{CAROL}>" in first.text
    # The offline planner reads the request above the quote; an LLM reads both.
    assert approval_message(slack, DEPLOYS, message.ts) is not None
