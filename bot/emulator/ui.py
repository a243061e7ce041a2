"""The emulator's browser UI for `hitl sandbox`: one static page plus a few JSON routes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from importlib import resources
from typing import Any, Protocol

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from bot.emulator.state import Ephemeral, Identity, Message, User, View, Violation, Workspace
from bot.emulator.views import IncompleteView


class Posted(Protocol):
    """What posting a message gives back (server.Delivery)."""

    @property
    def message(self) -> Message: ...
    @property
    def responses(self) -> list[httpx.Response]: ...


class Emulator(Protocol):
    """The part of server.SlackEmulator the page uses. A Protocol, so that this module need not
    import the server that mounts its routes (no import cycle)."""

    identity: Identity
    workspace: Workspace

    @property
    def channels(self) -> dict[str, str]: ...
    @property
    def users(self) -> dict[str, User]: ...
    @property
    def messages(self) -> list[Message]: ...
    @property
    def ephemerals(self) -> list[Ephemeral]: ...
    @property
    def violations(self) -> list[Violation]: ...
    def open_views(self, user: str | None = None) -> list[View]: ...
    def find_message(self, channel: str, ts: str) -> Message: ...
    async def post_message(
        self, *, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> Posted: ...
    async def click(
        self, *, user: str, message: Message | Ephemeral, action_id: str
    ) -> httpx.Response: ...
    async def select(
        self, *, user: str, message: Message | Ephemeral, action_id: str, value: str
    ) -> httpx.Response: ...
    async def submit_view(
        self, *, user: str, view: View, values: dict[str, dict[str, Any]] | None = None
    ) -> httpx.Response: ...
    async def close_view(self, *, user: str, view: View) -> httpx.Response | None: ...
    async def slash_command(
        self, *, user: str, channel: str, text: str, command: str = ...
    ) -> httpx.Response: ...
    async def shortcut(
        self, *, user: str, message: Message, callback_id: str
    ) -> httpx.Response: ...
    async def open_home(self, user: str) -> httpx.Response: ...
    async def click_home(
        self, *, user: str, block_id: str, action_id: str, view: View | None = None
    ) -> httpx.Response: ...


_AT_NAME = re.compile(r"(?<!\w)@([A-Za-z0-9._-]+)")
MESSAGE_SHORTCUTS = [{"name": "Ask hitl about this", "callback_id": "ask_hitl"}]
"""What the page's ⋯ menu offers on a message: the app's message shortcuts as manifest.yml
declares them (the emulator reads no manifest; a test checks the two agree)."""


def routes(emu: Emulator) -> list[Route]:
    """`/` (the page), `/ui/state`, and what a person does: `/ui/send`, `/ui/click` (buttons
    and selects, in messages or in the Home tab), `/ui/submit` and `/ui/close` (modals),
    `/ui/command` (a slash command), `/ui/shortcut` (a message shortcut) and `/ui/home`
    (opening the app's Home tab), for `emu`."""

    async def index(_: Request) -> HTMLResponse:
        page = (
            resources.files("bot.emulator")
            .joinpath("static/emulator.html")
            .read_text(encoding="utf-8")
        )
        return HTMLResponse(page)

    async def state(_: Request) -> JSONResponse:
        return JSONResponse(ui_state(emu))

    return [
        Route("/", index),
        Route("/ui/state", state),
        *(_action_route(emu, f"/ui/{name}", act) for name, act in ACTIONS.items()),
    ]


Action = Callable[[Emulator, dict[str, Any]], Awaitable[dict[str, Any]]]


def _action_route(emu: Emulator, path: str, act: Action) -> Route:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            return JSONResponse({"ok": True} | await act(emu, await request.json()))
        except IncompleteView as e:
            return JSONResponse({"ok": False, "error": "incomplete", "errors": e.errors})
        except (KeyError, LookupError, RuntimeError, TimeoutError, httpx.HTTPError) as e:
            return JSONResponse({"ok": False, "error": _describe(e)}, status_code=400)

    return Route(path, endpoint, methods=["POST"])


async def _send(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    delivery = await emu.post_message(
        user=str(body["user"]),
        channel=str(body["channel"]),
        text=mention_markup(emu, str(body["text"])),
        thread_ts=body.get("thread_ts") or None,
    )
    return {"ts": delivery.message.ts, "statuses": [r.status_code for r in delivery.responses]}


async def _click(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    user, action_id = str(body["user"]), str(body["action_id"])
    if body.get("home"):  # a button in the user's Home tab: Slack names its block, not a message
        clicked = await emu.click_home(
            user=user, block_id=str(body["block_id"]), action_id=action_id
        )
        return {"status": clicked.status_code}
    target = _clickable(emu, user, str(body["channel"]), str(body["ts"]))
    if body.get("value") is None:
        response = await emu.click(user=user, message=target, action_id=action_id)
    else:
        value = str(body["value"])
        response = await emu.select(user=user, message=target, action_id=action_id, value=value)
    return {"status": response.status_code}


async def _submit(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    view = emu.workspace.find_view(view_id=str(body["view_id"]))
    response = await emu.submit_view(user=str(body["user"]), view=view, values=body.get("values"))
    return {"status": response.status_code}


async def _command(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    response = await emu.slash_command(
        user=str(body["user"]),
        channel=str(body["channel"]),
        command=str(body.get("command") or "/hitl"),
        text=str(body.get("text") or ""),
    )
    return {"status": response.status_code}


async def _shortcut(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    message = emu.find_message(str(body["channel"]), str(body["ts"]))
    response = await emu.shortcut(
        user=str(body["user"]), message=message, callback_id=str(body["callback_id"])
    )
    return {"status": response.status_code}


async def _home(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    response = await emu.open_home(str(body["user"]))
    return {"status": response.status_code}


async def _close(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    view = emu.workspace.find_view(view_id=str(body["view_id"]))
    response = await emu.close_view(user=str(body["user"]), view=view)
    return {"status": response.status_code if response is not None else None}


ACTIONS: dict[str, Action] = {
    "send": _send,
    "click": _click,
    "submit": _submit,
    "close": _close,
    "command": _command,
    "shortcut": _shortcut,
    "home": _home,
}


def ui_state(emu: Emulator) -> dict[str, Any]:
    """Everything the page draws; ephemerals and modals are filtered per user in the browser."""
    me = emu.identity
    return {
        "bot": {"user_id": me.bot_user_id, "name": me.bot_name},
        "channels": [{"id": cid, "name": name} for cid, name in emu.channels.items()],
        "users": [asdict(u) for u in emu.users.values()],
        "messages": [asdict(m) | {"edited": m.edited} for m in emu.messages],
        "ephemerals": [asdict(e) for e in emu.ephemerals],
        "views": [_view(v) for v in emu.open_views()],
        "shortcuts": MESSAGE_SHORTCUTS,
        "homes": {user: _view(v) for user, v in emu.workspace.homes.items()},
        "violations": [asdict(v) | {"args": _short(v.args)} for v in emu.violations],
        "statuses": [
            {"channel": k.split(" ")[0], "thread_ts": k.split(" ")[1], "status": v}
            for k, v in emu.workspace.statuses.items()
        ],
    }


def _view(v: View) -> dict[str, Any]:
    # What the browser needs to draw a modal; `values` refill it after the bot sent errors.
    return {
        k: getattr(v, k)
        for k in ("id", "user", "title", "blocks", "submit", "close", "hash", "errors", "values")
    }


def _short(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k in ("channel", "text", "thread_ts", "view_id")}


def mention_markup(emu: Emulator, text: str) -> str:
    """Typed text as Slack's client sends it: `&<>` escaped, `@bot`, `@<bot name>` and
    `@<user name>` turned into `<@ID>` mentions."""
    ids = {u.name: u.id for u in emu.users.values()}
    ids |= {"bot": emu.identity.bot_user_id, emu.identity.bot_name: emu.identity.bot_user_id}

    def swap(m: re.Match[str]) -> str:
        uid = ids.get(m[1])
        return f"<@{uid}>" if uid else m[0]

    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _AT_NAME.sub(swap, escaped)


def _clickable(emu: Emulator, user: str, channel: str, ts: str) -> Message | Ephemeral:
    for e in emu.ephemerals:
        if e.channel == channel and e.ts == ts and e.user == user:
            return e
    return emu.find_message(channel, ts)


def _describe(e: Exception) -> str:
    if isinstance(e, KeyError):
        return f"missing field {e}"
    if isinstance(e, httpx.HTTPError):
        return f"could not reach the bot: {e!r}"
    return str(e)
