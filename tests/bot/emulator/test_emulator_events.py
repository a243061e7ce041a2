"""Message events the bot must handle besides plain messages: thread broadcasts, file shares,
edits, deletions and other apps' messages, in Slack's shapes, through a real Bolt app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.emulator.server import SlackEmulator
from bot.serving import start_server

SECRET = "events-secret"
ALICE, DEPLOYS = "U0ALICE", "C0DEPLOYS"


class Seen:
    """Every `message` event (by subtype) the Bolt app's listeners received."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def of(self, subtype: str | None) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("subtype") == subtype]


@pytest.fixture
async def bolt() -> AsyncIterator[tuple[SlackEmulator, Seen]]:
    emu = SlackEmulator(signing_secret=SECRET)
    await emu.start()
    seen = Seen()
    app = AsyncApp(token="xoxb-sandbox", signing_secret=SECRET, client=None)
    app.client.base_url = emu.api_url

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        seen.events.append(event)

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    server = await start_server(
        Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    )
    emu.events_url = f"{server.url}/slack/events"
    yield emu, seen
    await server.stop()
    await emu.stop()


async def test_broadcast_reply_carries_its_root(bolt: tuple[SlackEmulator, Seen]) -> None:
    emu, seen = bolt
    root = await emu.post_message(user=ALICE, channel=DEPLOYS, text="deploy?")
    reply = await emu.post_message(
        user=ALICE, channel=DEPLOYS, text="also here", thread_ts=root.message.ts, broadcast=True
    )
    assert [r.status_code for r in reply.responses] == [200]
    await emu.wait_for(lambda: bool(seen.of("thread_broadcast")))
    (event,) = seen.of("thread_broadcast")
    assert event["thread_ts"] == root.message.ts and event["user"] == ALICE
    assert event["root"]["ts"] == root.message.ts
    assert reply.message.subtype == "thread_broadcast"


async def test_file_share_has_files(bolt: tuple[SlackEmulator, Seen]) -> None:
    emu, seen = bolt
    shared = await emu.post_message(
        user=ALICE, channel=DEPLOYS, text="logs", files=["deploy.log", {"name": "a.png"}]
    )
    await emu.wait_for(lambda: bool(seen.of("file_share")))
    (event,) = seen.of("file_share")
    assert [(f["name"], f["mimetype"]) for f in event["files"]] == [
        ("deploy.log", "text/plain"),
        ("a.png", "image/png"),
    ]
    assert all(f["id"].startswith("F") and f["user"] == ALICE for f in event["files"])
    assert shared.message.files == event["files"]


async def test_edit_and_delete_send_hidden_subtypes(bolt: tuple[SlackEmulator, Seen]) -> None:
    emu, seen = bolt
    posted = await emu.post_message(user=ALICE, channel=DEPLOYS, text="deploy api 1.4")
    edited = await emu.edit_message(message=posted.message, text="deploy api 1.5")
    assert emu.find_message(DEPLOYS, posted.message.ts).text == "deploy api 1.5"
    await emu.wait_for(lambda: bool(seen.of("message_changed")))
    (changed,) = seen.of("message_changed")
    assert changed["hidden"] is True and "user" not in changed
    assert changed["message"]["text"] == "deploy api 1.5"
    assert changed["message"]["edited"]["ts"] == edited.message.edited_ts
    assert changed["previous_message"]["text"] == "deploy api 1.4"

    await emu.delete_message(message=posted.message)
    assert emu.messages == []
    await emu.wait_for(lambda: bool(seen.of("message_deleted")))
    (deleted,) = seen.of("message_deleted")
    assert deleted["deleted_ts"] == posted.message.ts
    assert deleted["previous_message"]["text"] == "deploy api 1.5"


async def test_another_apps_message_is_a_bot_message(bolt: tuple[SlackEmulator, Seen]) -> None:
    emu, seen = bolt
    delivery = await emu.post_bot_message(channel=DEPLOYS, text="CI passed", bot_id="B0CI")
    await emu.wait_for(lambda: bool(seen.of("bot_message")))
    (event,) = seen.of("bot_message")
    assert event["bot_id"] == "B0CI" and "user" not in event
    assert delivery.message.user is None and delivery.message.subtype == "bot_message"


async def test_broadcast_needs_a_thread(bolt: tuple[SlackEmulator, Seen]) -> None:
    emu, _ = bolt
    with pytest.raises(ValueError, match="thread_ts"):
        await emu.post_message(user=ALICE, channel=DEPLOYS, text="x", broadcast=True)
