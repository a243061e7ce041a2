"""Real provider clients end to end: signed Slack requests into the real Bolt app, a real Redis,
and the OpenAI or Anthropic client talking HTTP to a fake provider server."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from agents.models.llm_http import Retry
from agents.runtime.events import Error, ToolCall, Usage
from agents.runtime.thread import Status
from bot.emulator.server import SlackEmulator
from tests.agents.models.fake_providers import (
    APPROVAL,
    FakeProvider,
    Kind,
    client_for,
    context_sent,
    error,
    openai_tool_call,
    tool_call,
)
from tests.conftest import BOB, DEPLOYS, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    load_thread,
    mention,
    shown_text,
)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_the_provider_asks_for_approval_and_reports_after_the_deploy(
    kind: Kind, provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    provider.script(
        tool_call(kind, "request_approval", APPROVAL),
        tool_call(kind, "done_for_now", {"message": "Deployed api 1.4.2 to production."}),
    )
    model = client_for(kind, provider)
    try:
        bot = await make_bot(model=model)
        root = await mention(slack, "deploy api 1.4.2 to production")
        await bot.settle()

        approval = approval_message(slack, DEPLOYS, root)
        assert "Deploy api 1.4.2 to production" in shown_text(approval)
        assert await deployments(redis) == []
        assert len(provider.requests) == 1  # paused: the provider is not asked again
        assert "deploy api 1.4.2 to production" in context_sent(provider.requests[0].json)

        await slack.click(user=BOB, message=approval, action_id="hitl_approve")
        await bot.settle()
    finally:
        await model.aclose()

    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert len(provider.requests) == 2
    second = context_sent(provider.requests[1].json)
    assert "<approval_decision>" in second and "<deploy_result>" in second
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "Deployed api 1.4.2 to production."
    thread = await load_thread(redis, root)
    steps = [e for e in thread.events if isinstance(e, ToolCall) and e.source == "model"]
    assert [s.intent for s in steps] == ["request_approval", "done_for_now"]
    assert [s.usage for s in steps] == [Usage(input_tokens=321, output_tokens=45)] * 2


async def test_malformed_arguments_become_an_error_the_model_sees_next_turn(
    provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    provider.script(
        openai_tool_call("request_approval", '{"action": {"service": "api"'),
        openai_tool_call("request_approval", APPROVAL),
    )
    model = client_for("openai", provider)
    try:
        bot = await make_bot(model=model)
        root = await mention(slack, "deploy api 1.4.2 to production")
        await bot.settle()
    finally:
        await model.aclose()

    approval_message(slack, DEPLOYS, root)
    retry = context_sent(provider.requests[1].json)
    assert "<error>" in retry and "not a JSON tool call" in retry
    errors = [e for e in (await load_thread(redis, root)).events if isinstance(e, Error)]
    assert len(errors) == 1 and errors[0].usage == Usage(input_tokens=321, output_tokens=45)


async def test_provider_500s_are_recorded_as_errors_until_the_run_stops(
    provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    provider.fallback = error(500, "The server had an error while processing your request.")
    retry = Retry(attempts=2, base_delay=0.001)
    model = client_for("openai", provider, retry=retry)
    try:
        bot = await make_bot(model=model)
        root = await mention(slack, "deploy api 1.4.2 to production")
        await bot.settle()
    finally:
        await model.aclose()

    assert await deployments(redis) == []
    thread = await load_thread(redis, root)
    errors = [e.message for e in thread.events if isinstance(e, Error)]
    assert len(errors) == 3
    assert all("openai: HTTP 500: The server had an error" in m for m in errors)
    assert len(provider.requests) == 3 * retry.attempts
    assert thread.status is not Status.RUNNING
    assert bot_replies(slack, DEPLOYS, root), "the thread is told the run stopped"
