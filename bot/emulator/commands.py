"""Slash commands, message shortcuts and assistant status lines, as Slack sends and keeps them.

A slash command reaches the app as a signed form (`command`, `text`, `user_id`, `channel_id`,
`response_url`, `trigger_id`, ...); the text of the app's HTTP answer is shown to the user alone,
as Slack does. A message shortcut is a `message_action` interactivity payload carrying the
message. `assistant.threads.setStatus` keeps the status line per thread (an empty status clears
it); refuse it with `SlackEmulator.refuse("assistant.threads.setStatus", "not_allowed")`.
"""

from __future__ import annotations

import time
from typing import Any

from bot.emulator.state import ApiError, Message, Workspace

VERIFICATION_TOKEN = "verification-token"


def slash_command(
    ws: Workspace,
    *,
    user: str,
    channel: str,
    command: str,
    text: str,
    trigger_id: str,
    response_url: str,
) -> dict[str, str]:
    """The form fields Slack posts when `user` runs `command text` in `channel`."""
    me, who = ws.identity, ws.users.get(user)
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": me.team_id,
        "team_domain": me.team_domain,
        "channel_id": channel,
        "channel_name": ws.channels.get(channel, "privategroup"),
        "user_id": user,
        "user_name": who.name if who else user,
        "command": command,
        "text": text,
        "api_app_id": me.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def message_action(
    ws: Workspace,
    *,
    user: str,
    message: Message,
    callback_id: str,
    trigger_id: str,
    response_url: str,
) -> dict[str, Any]:
    """The payload Slack sends when `user` picks message shortcut `callback_id` on `message`."""
    me, who = ws.identity, ws.users.get(user)
    name = who.name if who else user
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": me.team_id, "domain": me.team_domain},
        "user": {"id": user, "username": name, "name": name, "team_id": me.team_id},
        "channel": {"id": message.channel, "name": ws.channels.get(message.channel, "")},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "response_url": response_url,
        "message_ts": message.ts,
        "message": ws.slack_message(message),
    }


def status_key(channel: str, thread_ts: str) -> str:
    return f"{channel} {thread_ts}"


def set_status(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """assistant.threads.setStatus: show (or, with "", clear) the app's status in a thread."""
    channel = ws.channel_id(str(args.get("channel_id", "")))
    if channel is None:
        raise ApiError("channel_not_found")
    thread_ts = str(args.get("thread_ts", ""))
    if ws.thread_root_ts(channel, thread_ts) is None:
        raise ApiError("invalid_thread_ts")
    if "status" not in args:
        raise ApiError("invalid_arguments")
    status = str(args["status"])
    key = status_key(channel, thread_ts)
    if status:
        ws.statuses[key] = status
    else:
        ws.statuses.pop(key, None)
    return {}
