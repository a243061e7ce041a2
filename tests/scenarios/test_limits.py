"""A model's oversize, hostile text through the real request path: the card is posted within
Slack's limits (the emulator refuses what Slack refuses) and nothing pings the channel."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from agents.models.scripted import ScriptedModel
from bot.emulator.server import SlackEmulator
from bot.slack import limits
from tests.conftest import BOB, CAROL, DEPLOYS, MakeBot
from tests.support import approval_message, bot_replies, deployments, mention, reject, shown_text

PROD = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}
SUMMARY = ("<!channel> deploy api 1.4.2 to production & tell everyone. " * 12)[:600]
RAW = ("<!channel>", "<!here>")


def sent(slack: SlackEmulator) -> str:
    """Everything the bot sent to Slack's Web API, as one string."""
    return "\n".join(json.dumps(call.args, ensure_ascii=False) for call in slack.calls)


async def test_a_long_hostile_summary_is_posted_cut_and_escaped(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    model = ScriptedModel(
        {"intent": "request_approval", "action": PROD, "summary": SUMMARY},
        {"intent": "done_for_now", "message": "Not deployed, as asked."},
    )
    bot = await make_bot(model=model)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()

    # Posted, not refused (the slack fixture also asserts no violations at the end).
    approval = approval_message(slack, DEPLOYS, root)
    (approve,) = [e for e in approval.blocks[-1]["elements"] if e["action_id"] == "hitl_approve"]
    confirm = approve["confirm"]["text"]["text"]
    # The confirm dialog states the call as code renders it, never the model's words.
    assert len(confirm) <= limits.CONFIRM_TEXT and confirm.startswith("Deploy api 1.4.2 to")
    assert "tell everyone" not in confirm
    assert "&lt;!channel&gt; deploy api 1.4.2 to production &amp; tell" in shown_text(approval)

    await reject(slack, user=BOB, message=approval, reason="<!here> no & not today")
    await bot.settle()

    decided = bot_replies(slack, DEPLOYS, root)
    assert "&lt;!here&gt; no &amp; not today" in shown_text(decided[0])
    assert decided[-1].text == "Not deployed, as asked."
    assert await deployments(redis) == []
    assert slack.calls_to("views.open")  # the reject modal showed the summary too
    for raw in RAW:
        assert raw not in sent(slack)


async def test_what_a_card_cuts_and_a_long_answer_follow_in_full_once(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    summary = "Deploy api 1.4.2 to production. " + "Risk notes: " + "x" * 3500 + " END-OF-SUMMARY"
    answer = "Release notes:\n" + "\n".join(f"line {i}: " + "y" * 80 for i in range(600))
    model = ScriptedModel(
        {"intent": "request_approval", "action": PROD, "summary": summary},
        {"intent": "done_for_now", "message": answer},
    )
    bot = await make_bot(model=model)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    assert "END-OF-SUMMARY" not in shown_text(approval)
    full = "".join(m.text or "" for m in bot_replies(slack, DEPLOYS, root) if m.ts != approval.ts)
    assert "Full summary" in full and "END-OF-SUMMARY" in full

    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    replies = [m.text or "" for m in bot_replies(slack, DEPLOYS, root)]
    shown = "".join(r for r in replies if "line " in r)
    assert "line 0:" in shown and "line 599:" in shown  # all of it, over several messages
    assert all(len(r) <= 40_000 for r in replies)
    assert len(replies) == len(set(replies))  # nothing twice


async def test_an_incident_report_with_a_long_stack_trace_still_pages_on_call(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_oncall=CAROL)
    trace = "\n".join(f'  File "app/checkout.py", line {i}, in handler' for i in range(90))
    root = await mention(slack, f"checkout is returning 500s\n{trace}\nRuntimeError: END-OF-TRACE")
    await bot.settle()
    page = [m for m in bot_replies(slack, DEPLOYS, root) if "hitl_take" in str(m.blocks)]
    assert len(page) == 1
    others = "".join(m.text or "" for m in bot_replies(slack, DEPLOYS, root) if m is not page[0])
    assert "END-OF-TRACE" in others or "END-OF-TRACE" in shown_text(page[0])
