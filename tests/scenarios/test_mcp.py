"""The MCP server (issue 14, item 3): an MCP client asks a person in Slack through `hitl mcp`
(stdio, a real subprocess) or `/mcp` on the HTTP app (Streamable HTTP, bearer token), with the
official `mcp` client, real Redis, the Slack emulator and the real worker."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from bot.emulator.server import SlackEmulator
from bot.services import build_services
from tests.conftest import ALICE, BOB, DEPLOYS, BotProcess, MakeBot
from tests.support import (
    NO_SANDBOX_STATE,
    approval_message,
    bot_replies,
    cli_env,
    has_buttons,
    hitl,
    shown_text,
    worker_env,
)

CI = "ci-secret-0123456789abcdef"
READER = "reader-secret-0123456789abcdef"
BOTH = "both-secret-0123456789abcdef"
TOKENS = f"ci={CI}:request,reader={READER}:read,both={BOTH}:request+respond"
TOOLS = {"request_approval", "request_input", "get_request", "list_pending", "cancel_request"}
DROP = {
    "channel": DEPLOYS,
    "summary": "Drop the staging cache",
    "action_name": "drop_cache",
    "arguments": {"env": "staging", "keys": 42},
}


@asynccontextmanager
async def stdio_session(slack: SlackEmulator, redis_url: str, log: Path) -> AsyncIterator[Any]:
    """`hitl mcp` as an MCP client spawns it: a subprocess speaking MCP on stdin/stdout."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot", "mcp"],
        env=worker_env(slack, redis_url, HITL_SANDBOX_STATE=NO_SANDBOX_STATE),
    )
    with log.open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(bot: BotProcess, secret: str) -> AsyncIterator[Any]:
    """`/mcp` on the bot's HTTP app (its server runs the app's lifespan: the SDK's session
    manager)."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30) as client,
        streamable_http_client(f"{bot.server.url}/mcp", http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def _text(result: CallToolResult) -> str:
    (content,) = result.content
    assert isinstance(content, TextContent)
    return content.text


async def call(session: Any, tool: str, **arguments: Any) -> Any:
    """The tool's JSON answer; the call must not be a tool error."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    return json.loads(_text(result))


async def refused(session: Any, tool: str, **arguments: Any) -> str:
    """The tool error's text; the call must be one."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, _text(result)
    return _text(result)


def root_of(slack: SlackEmulator) -> Any:
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    return root


async def test_an_mcp_client_over_stdio_asks_a_click_approves_and_get_request_returns_it(
    slack: SlackEmulator, make_bot: MakeBot, redis_server: str, tmp_path: Path
) -> None:
    bot = await make_bot()
    log = tmp_path / "mcp.log"
    async with stdio_session(slack, redis_server, log) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert "`get_request`" in str(tools["request_approval"].description)
        assert "`waiting`" in str(tools["request_approval"].description)

        asked = await call(session, "request_approval", **DROP)
        assert asked["status"] == "waiting" and asked["kind"] == "approval"
        await bot.settle()
        root = root_of(slack)
        assert "(via MCP): Drop the staging cache" in root.text
        card = approval_message(slack, DEPLOYS, root.ts)
        assert "drop_cache" in shown_text(card) and "staging" in shown_text(card)

        waiting = asyncio.create_task(call(session, "get_request", id=asked["id"], wait_seconds=20))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        decided = await asyncio.wait_for(waiting, 10)

        # A client that gives up on a wait cancels it; the server carries on serving.
        other = await call(session, "request_approval", **DROP)
        with pytest.raises(MCPError, match=r"(?i)timed out"):
            await session.call_tool(
                "get_request", {"id": other["id"], "wait_seconds": 30}, read_timeout_seconds=0.5
            )
        assert [r["id"] for r in await call(session, "list_pending")] == [other["id"]]
    assert decided["status"] == "approved"
    assert [(d["user"], d["approved"]) for d in decided["decisions"]] == [(BOB, True)]
    assert decided["arguments"] == {"env": "staging", "keys": 42}
    assert decided["url"].endswith(f"/archives/{DEPLOYS}/p{card.ts.replace('.', '')}")
    assert "Traceback" not in log.read_text()


async def test_hitl_mcp_without_a_slack_token_says_what_to_set(redis_server: str) -> None:
    proc = await hitl("mcp", environ=cli_env(redis_server))
    _, stderr = await proc.communicate()
    assert proc.returncode == 2 and "SLACK_BOT_TOKEN is not set" in stderr.decode()


async def test_an_mcp_client_over_http_asks_with_its_token_and_reads_the_decision(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    async with http_session(bot, CI) as session:
        asked = await call(session, "request_approval", **DROP, approvers=[BOB])
        await bot.settle()
        assert "(via API token ci): Drop the staging cache" in root_of(slack).text
        card = approval_message(slack, DEPLOYS, root_of(slack).ts)
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        decided = await call(session, "get_request", id=asked["id"], wait_seconds=5)
    assert decided["status"] == "approved" and decided["arguments"] == DROP["arguments"]


async def test_a_question_is_answered_in_the_thread_and_a_request_can_be_withdrawn(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    async with http_session(bot, CI) as session:
        asked = await call(
            session,
            "request_input",
            channel=DEPLOYS,
            question="Which region first?",
            options=["eu-west", "us-east"],
        )
        assert asked["kind"] == "input" and asked["status"] == "waiting"
        assert [r["id"] for r in await call(session, "list_pending")] == [asked["id"]]
        await bot.settle()
        root = root_of(slack)
        assert "Which region first?" in shown_text(bot_replies(slack, DEPLOYS, root.ts)[-1])
        # Answered by the deciders (HITL_APPROVERS): the MCP caller is nobody in Slack.
        await slack.post_message(user=ALICE, channel=DEPLOYS, text="us-east", thread_ts=root.ts)
        await bot.settle()
        assert (await call(session, "get_request", id=asked["id"]))["status"] == "waiting"
        await slack.post_message(user=BOB, channel=DEPLOYS, text="eu-west", thread_ts=root.ts)
        await bot.settle()
        answered = await call(session, "get_request", id=asked["id"])
        assert answered["status"] == "answered" and answered["answer"] == "eu-west"
        assert await call(session, "list_pending") == []

        dropping = await call(session, "request_approval", **DROP)
        await bot.settle()
        card = approval_message(slack, DEPLOYS, _ts(slack))
        withdrawn = await call(session, "cancel_request", id=dropping["id"])
        assert withdrawn["status"] == "waiting"  # as it was: a worker applies the cancel
        await bot.settle()
        cancelled = await call(session, "get_request", id=dropping["id"])
        assert cancelled["status"] == "cancelled" and cancelled["decisions"] == []
        assert not has_buttons(slack.find_message(DEPLOYS, card.ts))
        again = await refused(session, "cancel_request", id=dropping["id"])
        assert "already cancelled" in again
        assert await call(session, "list_pending") == []


async def test_a_question_names_who_may_answer_it(slack: SlackEmulator, make_bot: MakeBot) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS, approvers=frozenset())
    async with http_session(bot, CI) as session:
        asked = await call(
            session, "request_input", channel=DEPLOYS, question="Which day?", approvers=[ALICE]
        )
        await bot.settle()
        root = root_of(slack)
        await slack.post_message(user=BOB, channel=DEPLOYS, text="Monday", thread_ts=root.ts)
        await slack.post_message(user=ALICE, channel=DEPLOYS, text="Friday", thread_ts=root.ts)
        await bot.settle()
        answered = await call(session, "get_request", id=asked["id"])
    assert answered["status"] == "answered" and answered["answer"] == "Friday"


def _ts(slack: SlackEmulator) -> str:
    """The newest top-level message in DEPLOYS (the second request's)."""
    return [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS][-1].ts


async def test_a_wait_that_ends_undecided_returns_waiting_with_progress_on_the_way(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    seen: list[tuple[float, float | None]] = []

    async def progress(done: float, total: float | None, _: str | None) -> None:
        seen.append((done, total))

    async with http_session(bot, CI) as session:
        asked = await call(session, "request_approval", **DROP)
        await bot.settle()
        result = await session.call_tool(
            "get_request", {"id": asked["id"], "wait_seconds": 1.5}, progress_callback=progress
        )
    assert not result.is_error
    polled = json.loads(_text(result))
    assert polled["status"] == "waiting" and polled["id"] == asked["id"]
    assert seen and all(total == 1.5 and 0 < done <= 1.5 for done, total in seen)


@pytest.mark.parametrize(
    ("tool", "arguments", "named"),
    [
        ("request_approval", {**DROP, "channel": "#deploys"}, "channel"),
        ("request_approval", {**DROP, "summary": " "}, "summary"),
        ("request_approval", {**DROP, "action_name": ""}, "action_name"),
        ("request_approval", {**DROP, "timeout_seconds": 5}, "timeout_seconds"),
        ("request_approval", {**DROP, "approvers": ["bob"]}, "approvers"),
        ("request_approval", {k: v for k, v in DROP.items() if k != "channel"}, "channel"),
        ("request_input", {"channel": DEPLOYS, "question": "?", "options": ["a"] * 6}, "options"),
        ("request_input", {"channel": DEPLOYS}, "question"),
        ("get_request", {"id": "tnope"}, "no request 'tnope'"),
        ("cancel_request", {"id": "tnope"}, "no request 'tnope'"),
    ],
)
async def test_bad_input_is_a_tool_error_naming_the_field(
    make_bot: MakeBot, tool: str, arguments: dict[str, Any], named: str
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    async with http_session(bot, CI) as session:
        said = await refused(session, tool, **arguments)
        assert named in said
        assert await call(session, "list_pending") == []


async def test_mcp_over_http_needs_a_token_with_the_request_scope(make_bot: MakeBot) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=bot.server.url, headers=accept) as client:
        assert (await client.post("/mcp", json=hello)).status_code == 401
        wrong = await client.post("/mcp", json=hello, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        reader = {"Authorization": f"Bearer {READER}"}
        scoped = await client.post("/mcp", json=hello, headers=reader)
        assert scoped.status_code == 403 and scoped.json()["missing_scope"] == "request"

    # An app served without its lifespan says so instead of failing inside the SDK.
    idle = build_services(bot.services.settings)
    try:
        transport = httpx.ASGITransport(app=idle.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
            answer = await client.post(
                "/mcp", json=hello, headers=accept | {"Authorization": f"Bearer {CI}"}
            )
        assert answer.status_code == 503 and "lifespan" in answer.json()["error"]
    finally:
        await idle.close()


async def test_the_token_that_asked_over_mcp_cannot_approve_it_through_the_api(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_tokens=TOKENS)
    async with http_session(bot, BOTH) as session:
        asked = await call(session, "request_approval", **DROP)
        await bot.settle()
        async with httpx.AsyncClient(
            base_url=f"{bot.server.url}/api", headers={"Authorization": f"Bearer {BOTH}"}
        ) as api:
            answer = await api.post(
                f"/threads/{asked['id']}/respond", json={"user": BOB, "approved": True}
            )
        assert answer.status_code == 202
        await bot.settle()
        assert "API token both asked for this, so it cannot approve it" in slack.ephemerals[-1].text
        assert (await call(session, "get_request", id=asked["id"]))["status"] == "waiting"
        card = approval_message(slack, DEPLOYS, root_of(slack).ts)
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        assert (await call(session, "get_request", id=asked["id"]))["status"] == "approved"
