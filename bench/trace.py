"""Real threads for the token and size figures, made end to end: a signed mention from the Slack
emulator into the bot's HTTP app, jobs on the stream, a worker stepping the model, Redis.

- `deploy_thread`: offline model. `deploy api to production`, the agent asks which version,
  alice replies `1.4.2` in the Slack thread, the agent asks for approval, bob approves, it
  deploys and reports.
- `ten_step_thread`: a scripted model takes 10 steps: `list_versions` of 9 services, then a
  production deploy, which policy turns into an approval request; the thread pauses there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from agents.models.scripted import ScriptedModel
from agents.runtime.events import ToolCall, call_hash
from agents.runtime.jobs import Decide
from agents.runtime.thread import Thread
from agents.runtime.types import Model
from bench.common import ALICE, BOB, DEPLOYS, emulator, redis_url, services
from bot.emulator.server import SlackEmulator
from bot.services import Services
from bot.serving import start_server

SERVICES = ("api", "web", "worker", "billing", "search", "auth", "checkout", "mailer", "cron")
TEN_STEPS_TEXT = "deploy api 1.4.2 to production once you have checked the versions of our services"


@asynccontextmanager
async def _bot(model: Model | None = None) -> AsyncIterator[tuple[SlackEmulator, Services]]:
    with redis_url() as url:
        async with emulator() as slack:
            bot = services(url, slack.api_url, model=model)
            await bot.queue.setup()
            server = await start_server(bot.http)
            slack.events_url = f"{server.url}/slack/events"
            try:
                yield slack, bot
            finally:
                await server.stop()
                await bot.close()


async def _mention(slack: SlackEmulator, bot: Services, text: str) -> str:
    me = f"<@{slack.identity.bot_user_id}>"
    delivery = await slack.post_message(user=ALICE, channel=DEPLOYS, text=f"{me} {text}")
    await bot.worker.run(burst=True)
    return delivery.message.ts


async def _paused(bot: Services) -> Thread:
    (thread_id,) = await bot.store.thread_ids()
    thread = await bot.store.load(thread_id)
    assert thread is not None
    request = thread.open_request()
    assert request is not None and request.intent == "request_approval", thread
    return thread


async def deploy_thread() -> tuple[Thread, Thread]:
    """The thread paused at the approval, and the same thread once finished."""
    async with _bot() as (slack, bot):
        root = await _mention(slack, bot, "deploy api to production")
        await slack.post_message(user=ALICE, channel=DEPLOYS, text="1.4.2", thread_ts=root)
        await bot.worker.run(burst=True)
        paused = await _paused(bot)
        request = paused.open_request()
        assert request is not None
        decide = Decide(
            thread_id=paused.id,
            call_id=request.call_id,
            action_hash=call_hash(request.action),
            approved=True,
            user=BOB,
        )
        await bot.queue.enqueue(decide)
        await bot.worker.run(burst=True)
        done = await bot.store.load(paused.id)
        assert done is not None and done.open_request() is None
        return paused, done


TEN_STEPS: tuple[dict[str, str], ...] = (
    *({"intent": "list_versions", "service": s} for s in SERVICES),
    {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"},
)
"""The model's 10 steps, as `{"intent": <tool>, **arguments}`."""


async def ten_step_thread(model: Model | None = None) -> tuple[Thread, int]:
    """The 10-step thread paused at its approval, and the bytes Redis holds for the thread hash
    (version and JSON fields, as stored). `model` answers the 10 steps (`TEN_STEPS`; by
    default a scripted model gives them, the token figure points our OpenAI client at a fake
    provider that does)."""
    async with _bot(model or ScriptedModel(*TEN_STEPS)) as (slack, bot):
        await _mention(slack, bot, TEN_STEPS_TEXT)
        paused = await _paused(bot)
        # 9 model steps; the 10th, the deploy, became an approval request by policy.
        assert len([e for e in paused.events if isinstance(e, ToolCall)]) == 10
        stored = await bot.redis.hgetall(f"hitl:thread:{{{paused.id}}}")
        return paused, sum(len(k) + len(v) for k, v in stored.items())
