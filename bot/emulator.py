"""A local Slack at the process boundary, for scenario tests and `hitl sandbox`.

The real `AsyncWebClient` calls its Web API (`api_url`); it delivers signed Events API and
interactivity requests to the real Bolt app at `events_url`, shaped as Slack sends them.
State lives in `bot/emulator_state.py`, Web API methods in `bot/emulator_api.py`, the browser
UI in `bot/emulator_ui.py`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot import emulator_api, emulator_ui
from bot.emulator_payloads import block_actions, event_callback, rich_text, user_event
from bot.emulator_state import ApiCall, Ephemeral, Identity, Message, User, Workspace
from bot.serving import RunningServer, start_server

__all__ = ["ApiCall", "Delivery", "Ephemeral", "Message", "SlackEmulator", "User"]


@dataclass
class Delivery:
    """A user message the emulator stored, and the bot's HTTP answer to each event about it."""

    message: Message
    responses: list[httpx.Response] = field(default_factory=list)


class SlackEmulator:
    """A fake Slack workspace served over real HTTP; see the module docstring."""

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str = "xoxb-sandbox",
        team_id: str = "T0SANDBOX",
        bot_user_id: str = "UHITLBOT",
        bot_id: str = "BHITLBOT",
        events_url: str | None = None,
    ) -> None:
        self.identity = Identity(team_id, bot_token, bot_user_id, bot_id)
        self.workspace = Workspace(self.identity)
        self.events_url = events_url
        self._verifier = SignatureVerifier(signing_secret)
        self._server: RunningServer | None = None
        # response_url key -> (clicked message or ephemeral, clicking user)
        self._responders: dict[str, tuple[Message | Ephemeral, str]] = {}
        response_route = Route("/response/{key}", self._response_url, methods=["POST"])
        routes = [*emulator_api.routes(self.workspace), response_route, *emulator_ui.routes(self)]
        self.app = Starlette(routes=routes)

    @property
    def calls(self) -> list[ApiCall]:
        return self.workspace.calls

    @property
    def messages(self) -> list[Message]:
        return self.workspace.messages

    @property
    def ephemerals(self) -> list[Ephemeral]:
        return self.workspace.ephemerals

    @property
    def views(self) -> list[dict[str, Any]]:
        return self.workspace.views

    @property
    def channels(self) -> dict[str, str]:
        return self.workspace.channels

    @property
    def users(self) -> dict[str, User]:
        return self.workspace.users

    def add_channel(self, channel_id: str, name: str) -> None:
        self.workspace.channels[channel_id] = name

    def add_user(self, user_id: str, name: str, *, real_name: str = "", title: str = "") -> None:
        self.workspace.users[user_id] = User(user_id, name, real_name or name, title)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("SlackEmulator is not started")
        return self._server.url

    @property
    def api_url(self) -> str:
        """The `base_url` for slack_sdk clients (with the trailing slash it expects)."""
        return f"{self.url}/api/"

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await start_server(self.app, host=host, port=port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        return self.workspace.thread(channel, thread_ts)

    def find_message(self, channel: str, ts: str) -> Message:
        return self.workspace.find_message(channel, ts)

    # A `timeout` argument (not asyncio.timeout) so the TimeoutError can say what Slack saw.
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Poll `predicate` until true; the TimeoutError shows what Slack saw meanwhile."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(self._timeout_report(predicate, timeout))
            await asyncio.sleep(0.01)

    def _timeout_report(self, predicate: Callable[[], bool], timeout: float) -> str:
        code = getattr(predicate, "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
        lines = [f"condition {getattr(predicate, '__qualname__', predicate)}{where} "]
        lines[0] += f"not true after {timeout}s. Last Web API calls:"
        lines += [
            f"  {c.method} {json.dumps(c.args)[:200]} -> {c.response}" for c in self.calls[-8:]
        ]
        lines.append("Last messages:")
        lines += [f"  {m.channel} {m.ts} {m.user}: {m.text[:120]!r}" for m in self.messages[-8:]]
        return "\n".join(lines)

    async def post_message(
        self, *, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> Delivery:
        """Store a user's message, then deliver its `app_mention` (if any) and `message` events."""
        ws = self.workspace
        channel_id = ws.channel_id(channel)
        if channel_id is None or user not in ws.users:
            raise LookupError(f"unknown channel {channel!r} or user {user!r}")
        root = ws.thread_root_ts(channel_id, thread_ts) if thread_ts else None
        if thread_ts and root is None:
            raise LookupError(f"no thread {thread_ts} in {channel_id}")
        if self.events_url is None:
            raise RuntimeError("events_url is not set; nowhere to deliver the message")
        msg = Message(
            channel_id, ws.next_ts(), text, [rich_text(text, ws.next_id("rt"))], root, user
        )
        ws.messages.append(msg)
        delivery = Delivery(msg)
        kinds = ["message"]
        # Slack sends app_mention only in channels; a DM reaches the app as message.im alone.
        if f"<@{self.identity.bot_user_id}>" in text and not channel_id.startswith("D"):
            kinds.insert(0, "app_mention")
        for kind in kinds:
            body = json.dumps(event_callback(ws, user_event(ws, kind, msg)))
            delivery.responses.append(await self.deliver(body, content_type="application/json"))
        return delivery

    async def click(
        self, *, user: str, message: Message | Ephemeral, action_id: str
    ) -> httpx.Response:
        """Click the button `action_id` on `message` as `user` sees it.

        Stored messages are updated in place, so passing one clicks its current version; a
        `copy.deepcopy` taken earlier clicks what a client that missed the update still shows.
        Raises LookupError if `message` is gone from the channel or has no such button.
        """
        ws = self.workspace
        stored: Message | Ephemeral
        if isinstance(message, Message):
            stored = self.find_message(message.channel, message.ts)
        else:
            stored = ws.find_ephemeral(message.channel, message.ts)
        key = secrets.token_hex(8)
        trigger_id = f"{ws.next_id('')}.{self.identity.team_id}.{secrets.token_hex(8)}"
        payload = block_actions(
            ws,
            user=user,
            target=message,
            action_id=action_id,
            trigger_id=trigger_id,
            response_url=f"{self.url}/response/{key}",
        )
        ws.trigger_ids.add(trigger_id)
        self._responders[key] = (stored, user)
        body = urlencode({"payload": json.dumps(payload)})
        return await self.deliver(body, content_type="application/x-www-form-urlencoded")

    async def deliver(
        self,
        body: str,
        *,
        content_type: str,
        signature: str | None = None,
        timestamp: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST `body` to `events_url` signed like Slack; overrides let tests forge bad requests."""
        if self.events_url is None:
            raise RuntimeError("events_url is not set")
        ts = timestamp if timestamp is not None else str(int(time.time()))
        if signature is None:
            signature = self._verifier.generate_signature(timestamp=ts, body=body) or ""
        sent = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        sent |= {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
        sent |= headers or {}
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await client.post(self.events_url, content=body.encode(), headers=sent)

    async def _response_url(self, request: Request) -> JSONResponse:
        found = self._responders.get(request.path_params["key"])
        if found is None:
            return JSONResponse({"ok": False, "error": "expired_url"}, status_code=404)
        target, user = found
        if not any(x is target for x in [*self.messages, *self.ephemerals]):
            return JSONResponse({"ok": False, "error": "message_not_found"}, status_code=404)
        try:
            emulator_api.respond(self.workspace, target, user, await request.json())
        except emulator_api.ApiError as e:
            return JSONResponse({"ok": False, "error": e.code}, status_code=400)
        return JSONResponse({"ok": True})
