"""The emulator's slash commands, message shortcuts and assistant status lines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator.server import SlackEmulator
from bot.emulator.ui import ui_state
from bot.serving import start_server

DEPLOYS = "C0DEPLOYS"
SECRET = "s"


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret=SECRET)
    await emulator.start()
    yield emulator
    await emulator.stop()


def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-sandbox", base_url=emu.api_url)


async def test_set_status_shows_and_clears_a_thread_status_and_the_state_has_it(
    emu: SlackEmulator,
) -> None:
    posted = await client(emu).chat_postMessage(channel=DEPLOYS, text="root")
    ts = str(posted["ts"])
    await client(emu).assistant_threads_setStatus(
        channel_id=DEPLOYS, thread_ts=ts, status="is thinking…"
    )
    assert emu.status(DEPLOYS, ts) == "is thinking…"
    assert ui_state(emu)["statuses"] == [
        {"channel": DEPLOYS, "thread_ts": ts, "status": "is thinking…"}
    ]
    await client(emu).assistant_threads_setStatus(channel_id=DEPLOYS, thread_ts=ts, status="")
    assert emu.status(DEPLOYS, ts) == "" and ui_state(emu)["statuses"] == []


async def test_set_status_refuses_unknown_places_and_on_demand(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as wrong:
        await client(emu).assistant_threads_setStatus(
            channel_id="C0NOPE", thread_ts="1.000000", status="x"
        )
    assert wrong.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as no_thread:
        await client(emu).assistant_threads_setStatus(
            channel_id=DEPLOYS, thread_ts="1.000000", status="x"
        )
    assert no_thread.value.response["error"] == "invalid_thread_ts"
    posted = await client(emu).chat_postMessage(channel=DEPLOYS, text="root")
    emu.refuse("assistant.threads.setStatus", "not_allowed")
    with pytest.raises(SlackApiError) as refused:
        await client(emu).assistant_threads_setStatus(
            channel_id=DEPLOYS, thread_ts=str(posted["ts"]), status="x"
        )
    assert refused.value.response["error"] == "not_allowed"
    assert emu.status(DEPLOYS, str(posted["ts"])) == ""


async def test_slash_commands_and_shortcuts_arrive_signed_in_slacks_shapes(
    emu: SlackEmulator,
) -> None:
    seen: list[tuple[str, str]] = []
    verifier = SignatureVerifier(SECRET)

    async def app(request: Request) -> Response:
        body = (await request.body()).decode()
        assert verifier.is_valid_request(body, dict(request.headers))
        seen.append((request.headers["content-type"], body))
        if "command=" in body:
            return JSONResponse({"text": "only you see this"})
        return Response(status_code=200)

    server = await start_server(Starlette(routes=[Route("/", app, methods=["POST"])]))
    emu.events_url = f"{server.url}/"
    try:
        await emu.slash_command(user="U0ALICE", channel=DEPLOYS, text="inbox")
        msg = (await emu.post_message(user="U0BOB", channel=DEPLOYS, text="ship it")).message
        await emu.shortcut(user="U0ALICE", message=msg, callback_id="ask_hitl")
    finally:
        await server.stop()

    command = {k: v[0] for k, v in parse_qs(seen[0][1]).items()}
    assert seen[0][0] == "application/x-www-form-urlencoded"
    assert command["command"] == "/hitl" and command["text"] == "inbox"
    assert command["user_id"] == "U0ALICE" and command["channel_id"] == DEPLOYS
    assert command["trigger_id"] and command["response_url"].startswith(emu.url)
    (shown,) = emu.ephemerals
    assert (shown.user, shown.channel, shown.text) == ("U0ALICE", DEPLOYS, "only you see this")
    payload = json.loads(parse_qs(seen[-1][1])["payload"][0])
    assert payload["type"] == "message_action" and payload["callback_id"] == "ask_hitl"
    assert payload["message"]["text"] == "ship it" and payload["message_ts"] == msg.ts
    assert payload["channel"]["id"] == DEPLOYS and payload["user"]["id"] == "U0ALICE"


async def test_the_page_runs_slash_commands_and_shortcuts(emu: SlackEmulator) -> None:
    bodies: list[str] = []

    async def app(request: Request) -> Response:
        bodies.append((await request.body()).decode())
        return JSONResponse({"text": "help text"} if "command=" in bodies[-1] else {})

    server = await start_server(Starlette(routes=[Route("/", app, methods=["POST"])]))
    emu.events_url = f"{server.url}/"
    try:
        async with httpx.AsyncClient(base_url=emu.url) as page:
            ran = await page.post(
                "/ui/command",
                json={"user": "U0ALICE", "channel": DEPLOYS, "command": "/hitl", "text": "help"},
            )
            msg = (await emu.post_message(user="U0BOB", channel=DEPLOYS, text="x")).message
            picked = await page.post(
                "/ui/shortcut",
                json={
                    "user": "U0ALICE",
                    "channel": DEPLOYS,
                    "ts": msg.ts,
                    "callback_id": "ask_hitl",
                },
            )
    finally:
        await server.stop()
    assert ran.json() == {"ok": True, "status": 200} and picked.json()["ok"] is True
    assert [e.text for e in emu.ephemerals] == ["help text"]
    assert "message_action" in bodies[-1]
