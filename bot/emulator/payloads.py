"""What the emulator sends to the bot, in Slack's shapes: Events API envelopes and events,
and `block_actions`, `view_submission` and `view_closed` interaction payloads. Pure builders
over the workspace state."""

from __future__ import annotations

import mimetypes
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

from bot.emulator.state import Ephemeral, Message, View, Workspace

VERIFICATION_TOKEN = "sandbox-verification-token"  # deprecated by Slack, still sent in payloads
_MENTION = re.compile(r"(<@[A-Z0-9]+>)")


def rich_text(text: str, block_id: str) -> dict[str, Any]:
    """The rich_text block Slack's clients attach to a typed message."""
    elements: list[dict[str, Any]] = []
    for part in _MENTION.split(text):
        if part.startswith("<@") and _MENTION.fullmatch(part):
            elements.append({"type": "user", "user_id": part[2:-1]})
        elif part:
            # rich_text carries the raw characters; only `text` uses Slack's &amp; escaping.
            raw = part.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            elements.append({"type": "text", "text": raw})
    section = {"type": "rich_text_section", "elements": elements}
    return {"type": "rich_text", "block_id": block_id, "elements": [section]}


def user_event(ws: Workspace, kind: str, msg: Message) -> dict[str, Any]:
    """An `app_mention` or `message` event for a new message `msg` (a person's, or another
    app's `bot_message`); `message` events carry its subtype."""
    event: dict[str, Any] = {"type": kind, "text": msg.text, "ts": msg.ts}
    if msg.user is not None:
        event |= {"client_msg_id": str(uuid.uuid4()), "user": msg.user}
    if msg.bot_id is not None:
        event |= {"bot_id": msg.bot_id, "username": msg.username}
    if msg.subtype is not None and kind == "message":
        event["subtype"] = msg.subtype
    if msg.blocks:
        event["blocks"] = msg.blocks
    if msg.files:
        event |= {"files": msg.files, "upload": False, "display_as_bot": False}
    event |= {"team": ws.identity.team_id, "channel": msg.channel, "event_ts": msg.ts}
    if kind == "message":
        event["channel_type"] = _channel_type(msg.channel)
    if msg.thread_ts is not None:
        root = ws.find_message(msg.channel, msg.thread_ts)
        event |= {"thread_ts": msg.thread_ts, "parent_user_id": root.user}
        if msg.subtype == "thread_broadcast":
            event["root"] = ws.slack_message(root)
    return event


def message_changed(
    ws: Workspace, msg: Message, previous: dict[str, Any], *, event_ts: str
) -> dict[str, Any]:
    """The `message_changed` event Slack sends when `msg` was edited (it is hidden: no user)."""
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "message": ws.slack_message(msg),
        "channel": msg.channel,
        "previous_message": previous,
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": _channel_type(msg.channel),
    }


def message_deleted(
    ws: Workspace, msg: Message, previous: dict[str, Any], event_ts: str
) -> dict[str, Any]:
    """The `message_deleted` event Slack sends when `msg` was deleted."""
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "deleted_ts": msg.ts,
        "channel": msg.channel,
        "previous_message": previous,
        "event_ts": event_ts,
        "ts": event_ts,
        "channel_type": _channel_type(msg.channel),
    }


def file_objects(
    ws: Workspace, user: str, files: Sequence[str | dict[str, Any]]
) -> list[dict[str, Any]]:
    """Slack file objects for an upload by `user`: a name, or a partial object to complete."""
    out = []
    for given in files:
        spec = {"name": given} if isinstance(given, str) else dict(given)
        file_id = str(spec.get("id") or ws.next_id("F"))
        name = str(spec.get("name") or f"{file_id}.txt")
        filetype = name.rpartition(".")[2] if "." in name else "text"
        base: dict[str, Any] = {"id": file_id, "created": int(time.time()), "name": name}
        base |= {"title": name, "mimetype": mimetypes.guess_type(name)[0] or "text/plain"}
        base |= {"filetype": filetype, "user": user, "size": 0, "mode": "hosted"}
        base |= {"is_external": False, "is_public": True, "pretty_type": filetype.upper()}
        base["url_private"] = (
            f"https://files.slack.com/files-pri/{ws.identity.team_id}-{file_id}/{name}"
        )
        out.append(base | spec)
    return out


def _channel_type(channel: str) -> str:
    return "im" if channel.startswith("D") else "channel"


def event_callback(ws: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    """The Events API envelope around `event`, with a fresh event_id."""
    me = ws.identity
    auth: dict[str, Any] = {"enterprise_id": None, "team_id": me.team_id}
    auth |= {"user_id": me.bot_user_id, "is_bot": True, "is_enterprise_install": False}
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": me.team_id,
        "context_team_id": me.team_id,
        "context_enterprise_id": None,
        "api_app_id": me.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": ws.next_id("Ev"),
        "event_time": int(time.time()),
        "authorizations": [auth],
        "is_ext_shared_channel": False,
    }


def block_actions(
    ws: Workspace,
    *,
    user: str,
    target: Message | Ephemeral,
    action_id: str,
    trigger_id: str,
    response_url: str,
    value: str | None = None,
) -> dict[str, Any]:
    """The payload Slack sends when `user` clicks button `action_id` on `target`, or picks
    the option whose value is `value` in its static_select `action_id`."""
    me, who = ws.identity, ws.users.get(user)
    name = who.name if who else user
    blocks = _with_block_ids(target.blocks)
    block_id, element = _find_element(blocks, action_id)
    kind = element["type"]
    action = {"type": kind, "action_id": action_id, "block_id": block_id}
    state: dict[str, Any] = {}
    if kind == "button":
        action |= {k: element[k] for k in ("text", "value", "style") if k in element}
    else:
        chosen = {"selected_option": find_option(element, value)}
        action |= chosen | (
            {"placeholder": element["placeholder"]} if "placeholder" in element else {}
        )
        state = {block_id: {action_id: {"type": kind} | chosen}}
    is_eph = isinstance(target, Ephemeral)
    container = {"type": "message", "message_ts": target.ts, "channel_id": target.channel}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": name, "name": name, "team_id": me.team_id},
        "api_app_id": me.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container | {"is_ephemeral": is_eph},
        "trigger_id": trigger_id,
        "team": {"id": me.team_id, "domain": me.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": target.channel, "name": ws.channels.get(target.channel, "")},
        "state": {"values": state},
        "response_url": response_url,
        "actions": [action | {"action_ts": f"{time.time():.6f}"}],
    }
    # Slack keeps no copy of an ephemeral message, so its payload has no `message`.
    if isinstance(target, Message):
        payload["message"] = ws.slack_message(target) | {"blocks": blocks}
    return payload


def _with_block_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Slack fills in a block_id wherever the app left it out; payloads always carry one.
    return [b if "block_id" in b else b | {"block_id": f"blk{i}"} for i, b in enumerate(blocks)]


INTERACTIVE = ("button", "static_select")


def _interactive(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block.get("type") == "actions":
        candidates = block.get("elements", [])
    elif block.get("type") == "section":
        candidates = [block.get("accessory")]
    else:
        return []
    return [el for el in candidates if isinstance(el, dict) and el.get("type") in INTERACTIVE]


def _find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    for block in blocks:
        for element in _interactive(block):
            if element.get("action_id") == action_id:
                return str(block["block_id"]), element
    there = [e.get("action_id") for block in blocks for e in _interactive(block)]
    raise LookupError(f"no button or select {action_id!r} in the message; it has: {there}")


def find_option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """The option of a select-like `element` whose value is `value`; LookupError if none."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    for option in options:
        if option.get("value") == value:
            return dict(option)
    there = [o.get("value") for o in options]
    raise LookupError(f"no option {value!r} in {element.get('action_id')!r}; options: {there}")


def view_submission(
    ws: Workspace,
    *,
    user: str,
    view: View,
    state: dict[str, dict[str, Any]],
    trigger_id: str,
) -> dict[str, Any]:
    """The payload Slack sends when `user` presses Submit on `view` with `state` entered."""
    payload = _view_payload(ws, "view_submission", user, ws.slack_view(view, state))
    return payload | {"trigger_id": trigger_id, "response_urls": []}


def view_closed(ws: Workspace, *, user: str, view: View, cleared: bool) -> dict[str, Any]:
    """The payload Slack sends (if the view asked for it) when `user` closes `view`."""
    return _view_payload(ws, "view_closed", user, ws.slack_view(view)) | {"is_cleared": cleared}


def _view_payload(ws: Workspace, kind: str, user: str, view: dict[str, Any]) -> dict[str, Any]:
    me, who = ws.identity, ws.users.get(user)
    name = who.name if who else user
    return {
        "type": kind,
        "team": {"id": me.team_id, "domain": me.team_domain},
        "user": {"id": user, "username": name, "name": name, "team_id": me.team_id},
        "api_app_id": me.app_id,
        "token": VERIFICATION_TOKEN,
        "view": view,
        "enterprise": None,
        "is_enterprise_install": False,
    }
