"""Routing: each mention goes to exactly one agent, in the worker. Offline by keywords; with an
LLM configured by a one-tool classification call, falling back to keywords, then to help."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from agents.models.llm_http import Retry
from agents.runtime.jobs import Launch
from agents.runtime.thread import SlackOrigin
from bot.emulator.server import SlackEmulator
from tests.agents.models.fake_providers import (
    FakeProvider,
    client_for,
    context_sent,
    error,
    openai_text,
    openai_tool_call,
)
from tests.conftest import ALICE, DEPLOYS, MakeBot
from tests.support import bot_replies, load_thread, mention

LLM = {"llm_provider": "openai", "llm_model": "gpt-test"}


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("deploy api 1.4.2 to staging", "deploy"),
        ("give <@U0DANA> read access to billing-db for 2 days because on call", "access"),
        ("checkout is returning 500s", "incident"),
    ],
)
async def test_offline_keywords_route(
    text: str, agent: str, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    root = await mention(slack, text)
    await bot.settle()
    assert (await load_thread(redis, root)).agent == agent


async def test_offline_help_when_nothing_matches(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    root = await mention(slack, "what's for lunch?")
    await bot.settle()
    (help_reply,) = bot_replies(slack, DEPLOYS, root)
    assert "I can help with" in help_reply.text
    for name in ("deploy", "access", "incident"):
        assert f"*{name}*" in help_reply.text


async def test_the_model_routes_with_one_small_call(
    provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    provider.script(
        openai_tool_call("route", {"agent": "access"}),
        openai_tool_call("request_input", {"question": "Why does dana need it?"}),
    )
    model = client_for("openai", provider)
    try:
        bot = await make_bot(model=model, **LLM)
        text = "dana needs to look at billing-db for the audit"
        root = await mention(slack, text)
        await bot.settle()
        # The same launch delivered again (a worker died before acking it): no second routing.
        origin = SlackOrigin(channel=DEPLOYS, thread_ts=root)
        again = Launch(
            user=ALICE,
            text=f"<@{slack.identity.bot_user_id}> {text}",
            origin=origin,
            message_ts=root,
        )
        await bot.services.queue.enqueue(again)
        assert await bot.settle() == 1
    finally:
        await model.aclose()

    assert len(provider.requests) == 2 and len(bot_replies(slack, DEPLOYS, root)) == 1
    assert (await load_thread(redis, root)).agent == "access"
    routing = provider.requests[0].json
    assert [t["function"]["name"] for t in routing["tools"]] == ["route"]
    enum = routing["tools"][0]["function"]["parameters"]["properties"]["agent"]["enum"]
    assert enum == ["deploy", "access", "incident", "none"]
    assert "billing-db for the audit" in context_sent(routing)
    assert bot_replies(slack, DEPLOYS, root)[-1].text.endswith("Why does dana need it?")


@pytest.mark.parametrize(
    "junk",
    [
        openai_text("I think this is about access."),
        openai_tool_call("route", {"agent": "payroll"}),
        error(500, "The server had an error"),
    ],
)
async def test_junk_routing_falls_back_to_keywords(
    junk: object, provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    provider.script(junk, openai_tool_call("done_for_now", {"message": "ok"}))  # type: ignore[arg-type]
    model = client_for("openai", provider, retry=Retry(attempts=1, base_delay=0.001))
    try:
        bot = await make_bot(model=model, **LLM)
        root = await mention(slack, "deploy api 1.4.2 to staging")
        await bot.settle()
    finally:
        await model.aclose()
    assert (await load_thread(redis, root)).agent == "deploy"
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "ok"


async def test_none_or_junk_without_keywords_gets_help(
    provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    provider.script(openai_tool_call("route", {"agent": "none"}), openai_text("no idea"))
    model = client_for("openai", provider)
    try:
        bot = await make_bot(model=model, **LLM)
        first = await mention(slack, "hello there")
        await bot.settle()
        second = await mention(slack, "what's for lunch?")
        await bot.settle()
    finally:
        await model.aclose()
    for root in (first, second):
        (reply,) = bot_replies(slack, DEPLOYS, root)
        assert "I can help with" in reply.text
    assert len(provider.requests) == 2  # one routing call each, no agent step
