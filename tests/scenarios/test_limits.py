"""A model's oversize, hostile text through the real request path: the card is posted within
Slack's limits (the emulator refuses what Slack refuses) and nothing pings the channel."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from agents.scripted import ScriptedModel
from bot import limits
from bot.emulator import SlackEmulator
from tests.conftest import BOB, DEPLOYS, MakeBot
from tests.scenarios.helpers import approval_message, bot_replies, reject, shown_text
from tests.scenarios.test_deploy import deployments, mention

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
    assert len(confirm) <= limits.CONFIRM_TEXT and "…" in confirm
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
