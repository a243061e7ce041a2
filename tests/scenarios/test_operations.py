"""What operators see: Prometheus metrics, and the ⏳ on a thread while the bot works in it."""

from __future__ import annotations

from datetime import timedelta

import httpx
from redis.asyncio import Redis

from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, DEPLOYS, BotProcess
from tests.support import approval_message, bot_replies, mention


def sample(text: str, name: str) -> float:
    """The value of one sample line, e.g. `hitl_waiting_requests{kind="request_approval"}`."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the metrics")


async def metrics(bot: BotProcess) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{bot.server.url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_metrics_show_waiting_requests_steps_resumes_and_the_stream(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    assert sample(await metrics(bot), "hitl_stream_lag") == 1  # queued, no worker yet
    await bot.settle()

    text = await metrics(bot)
    assert sample(text, 'hitl_waiting_requests{kind="request_approval"}') == 1
    assert sample(text, 'hitl_waiting_requests{kind="request_input"}') == 0
    assert sample(text, "hitl_stream_lag") == 0 and sample(text, "hitl_stream_pending") == 0
    assert sample(text, 'hitl_step_seconds_count{agent="deploy"}') >= 1
    assert sample(text, 'hitl_llm_seconds_count{agent="deploy"}') >= 1

    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    text = await metrics(bot)
    assert sample(text, 'hitl_waiting_requests{kind="request_approval"}') == 0
    assert sample(text, 'hitl_resumes_total{kind="approval_decision"}') == 1


async def test_the_thread_shows_an_hourglass_only_while_steps_run(
    slack: SlackEmulator, bot: BotProcess
) -> None:
    # Where Slack refuses status lines (tests/scenarios/test_commands.py), the ⏳ says it.
    slack.refuse("assistant.threads.setStatus", "not_allowed")
    root = await mention(slack, "deploy web 2.0.1 to staging")
    await bot.settle()

    added, removed = slack.calls_to("reactions.add"), slack.calls_to("reactions.remove")
    assert [c.args["timestamp"] for c in added] == [root]
    assert [c.args["name"] for c in removed] == ["hourglass_flowing_sand"]
    # Added before the bot's first reply, removed after its last.
    methods = [
        c.method
        for c in slack.calls
        if c.method not in ("auth.test", "assistant.threads.setStatus")
    ]
    assert methods[0] == "reactions.add" and methods[-1] == "reactions.remove"
    assert slack.find_message(DEPLOYS, root).reactions == {"hourglass_flowing_sand": []}


async def test_reminders_and_expiry_are_not_counted_as_resumes(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    assert await Deadlines(redis).fire_due(utcnow() + timedelta(days=1)) == 2
    await bot.settle()

    text = await metrics(bot)
    assert "nothing was deployed" in bot_replies(slack, DEPLOYS, root)[-1].text
    assert "hitl_resumes_total{" not in text  # nobody answered: no resume of any kind
