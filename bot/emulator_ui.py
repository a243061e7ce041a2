"""The emulator's browser UI for `hitl sandbox`: one static page plus three JSON routes."""

from __future__ import annotations

import re
from dataclasses import asdict
from importlib import resources
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from bot.emulator_state import Ephemeral, Message

if TYPE_CHECKING:
    from bot.emulator import SlackEmulator

_AT_NAME = re.compile(r"(?<!\w)@([A-Za-z0-9._-]+)")


def routes(emu: SlackEmulator) -> list[Route]:
    """`/` (the page), `/ui/state`, `/ui/send` and `/ui/click` for `emu`."""

    async def index(_: Request) -> HTMLResponse:
        page = resources.files("bot").joinpath("static/emulator.html").read_text(encoding="utf-8")
        return HTMLResponse(page)

    async def state(_: Request) -> JSONResponse:
        return JSONResponse(ui_state(emu))

    async def send(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            delivery = await emu.post_message(
                user=str(body["user"]),
                channel=str(body["channel"]),
                text=mention_markup(emu, str(body["text"])),
                thread_ts=body.get("thread_ts") or None,
            )
        except (KeyError, LookupError, RuntimeError, httpx.HTTPError) as e:
            return JSONResponse({"ok": False, "error": _describe(e)}, status_code=400)
        statuses = [r.status_code for r in delivery.responses]
        return JSONResponse({"ok": True, "ts": delivery.message.ts, "statuses": statuses})

    async def click(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            user = str(body["user"])
            target = _clickable(emu, user, str(body["channel"]), str(body["ts"]))
            response = await emu.click(user=user, message=target, action_id=str(body["action_id"]))
        except (KeyError, LookupError, RuntimeError, httpx.HTTPError) as e:
            return JSONResponse({"ok": False, "error": _describe(e)}, status_code=400)
        return JSONResponse({"ok": True, "status": response.status_code})

    return [
        Route("/", index),
        Route("/ui/state", state),
        Route("/ui/send", send, methods=["POST"]),
        Route("/ui/click", click, methods=["POST"]),
    ]


def ui_state(emu: SlackEmulator) -> dict[str, Any]:
    """Everything the page draws; ephemerals are filtered per user in the browser."""
    me = emu.identity
    return {
        "bot": {"user_id": me.bot_user_id, "name": me.bot_name},
        "channels": [{"id": cid, "name": name} for cid, name in emu.channels.items()],
        "users": [asdict(u) for u in emu.users.values()],
        "messages": [asdict(m) | {"edited": m.edited} for m in emu.messages],
        "ephemerals": [asdict(e) for e in emu.ephemerals],
    }


def mention_markup(emu: SlackEmulator, text: str) -> str:
    """Typed text as Slack's client sends it: `&<>` escaped, `@bot`, `@<bot name>` and
    `@<user name>` turned into `<@ID>` mentions."""
    ids = {u.name: u.id for u in emu.users.values()}
    ids |= {"bot": emu.identity.bot_user_id, emu.identity.bot_name: emu.identity.bot_user_id}

    def swap(m: re.Match[str]) -> str:
        uid = ids.get(m[1])
        return f"<@{uid}>" if uid else m[0]

    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _AT_NAME.sub(swap, escaped)


def _clickable(emu: SlackEmulator, user: str, channel: str, ts: str) -> Message | Ephemeral:
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
