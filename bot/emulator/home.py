"""App Home and direct messages in the emulator: `views.publish`, `conversations.open`, the
`app_home_opened` event and the payload of a click in a Home tab.

Each user has at most one Home view (`Workspace.homes`); publishing again replaces its
contents under the same view id with a fresh hash, as Slack does. A DM with a user is the
channel `D` + their user id; `chat.postMessage` to a user id posts there (Slack: the app's
Messages tab). Slack refuses a DM with a bot (`cannot_dm_bot`) or an unknown user
(`user_not_found`).
"""

from __future__ import annotations

import time
from typing import Any

from bot.emulator.payloads import VERIFICATION_TOKEN, event_callback
from bot.emulator.state import ApiError, View, Workspace
from bot.emulator.views import _checked_spec, _new_view, replace


def dm_channel(user: str) -> str:
    """The id of the DM between the app and `user`."""
    return f"D{user}"


def dm_user(ws: Workspace, user: str) -> str:
    """The DM channel with `user`, if Slack would open one (else ApiError)."""
    if user == ws.identity.bot_user_id or user.startswith("B"):
        raise ApiError("cannot_dm_bot")
    if user not in ws.users:
        raise ApiError("user_not_found")
    channel = dm_channel(user)
    ws.channels.setdefault(channel, channel)
    return channel


def conversations_open(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    users = [u for u in str(args.get("users", "")).split(",") if u]
    if args.get("channel"):
        channel = ws.channel_id(str(args["channel"]))
        if channel is None:
            raise ApiError("channel_not_found")
        return {"channel": {"id": channel}}
    if len(users) != 1:
        raise ApiError("not_enough_users" if not users else "too_many_users")
    return {"channel": {"id": dm_user(ws, users[0]), "is_im": True}}


def views_publish(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = str(args.get("user_id", ""))
    if user not in ws.users:
        raise ApiError("user_not_found")
    spec = _checked_spec(ws, args)
    if spec.get("type") != "home":
        raise ApiError(
            "invalid_arguments", ["views.publish takes a home view [json-pointer:/view]"]
        )
    current = ws.homes.get(user)
    if current is not None and args.get("hash") and args["hash"] != current.hash:
        raise ApiError("hash_conflict")
    if current is None:
        ws.homes[user] = _new_view(ws, user, spec)
    else:
        replace(ws, current, spec)
    return {"view": ws.slack_view(ws.homes[user])}


def home_opened(ws: Workspace, user: str) -> dict[str, Any]:
    """The `app_home_opened` event Slack sends when `user` opens the app's Home tab; it
    carries the view last published for them, if any."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": dm_channel(user),
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    if user in ws.homes:
        event["view"] = ws.slack_view(ws.homes[user])
    return event_callback(ws, event)


def home_click(
    ws: Workspace, *, user: str, view: View, block_id: str, action_id: str, trigger_id: str
) -> dict[str, Any]:
    """The `block_actions` payload of a click on button `action_id` in block `block_id` of
    the Home view `view`: its container is the view, and there is no channel."""
    me, who = ws.identity, ws.users.get(user)
    name = who.name if who else user
    element = _button(view, block_id, action_id)
    action = {"type": "button", "action_id": action_id, "block_id": block_id}
    action |= {k: element[k] for k in ("text", "value", "style", "url") if k in element}
    return {
        "type": "block_actions",
        "user": {"id": user, "username": name, "name": name, "team_id": me.team_id},
        "api_app_id": me.app_id,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": trigger_id,
        "team": {"id": me.team_id, "domain": me.team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": ws.slack_view(view),
        "actions": [action | {"action_ts": f"{time.time():.6f}"}],
    }


def _button(view: View, block_id: str, action_id: str) -> dict[str, Any]:
    for block in view.blocks:
        if block.get("block_id") != block_id:
            continue
        for element in block.get("elements") or [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return dict(element)
    raise LookupError(f"no button {action_id!r} in block {block_id!r} of Home view {view.id}")
