"""Reading messages back: conversations.history and conversations.replies with Slack's paging
(`limit`, `cursor`, `oldest`, `latest`, `inclusive`) and message metadata
(`include_all_metadata`), plus parsing the `metadata` argument of chat.postMessage/update."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from bot.emulator.state import ApiError, Message, Workspace

DEFAULT_LIMIT = 100  # Slack's default page size for both methods
MAX_LIMIT = 999


def truthy(value: Any) -> bool:
    """A boolean argument as slack_sdk sends it: JSON true, or "1"/"true" in a query string."""
    return value is True or str(value).lower() in ("1", "true")


def metadata_arg(args: dict[str, Any]) -> dict[str, Any] | None:
    """The `metadata` argument (a JSON string or an object), checked like Slack does;
    None when absent or empty (an empty object removes metadata in chat.update)."""
    value = args.get("metadata")
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else None
        except json.JSONDecodeError:
            raise ApiError("invalid_metadata_format") from None
    if not value:
        return None
    if not isinstance(value, dict):
        raise ApiError("invalid_metadata_format")
    event_type, payload = value.get("event_type"), value.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise ApiError("invalid_metadata_schema")
    return {"event_type": event_type, "event_payload": payload}


def conversations_history(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """A channel's top-level messages (and thread broadcasts), newest first."""
    channel = _channel(ws, args)
    found = [
        m
        for m in ws.messages
        if m.channel == channel and (m.thread_ts is None or m.subtype == "thread_broadcast")
    ]
    found.sort(key=lambda m: _ts_key(m.ts), reverse=True)
    page = _page(ws, found, args, newest_first=True)
    return page | {"pin_count": 0}


def conversations_replies(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """A thread, its root first, then the replies oldest first."""
    channel = _channel(ws, args)
    root = ws.thread_root_ts(channel, str(args.get("ts", "")))
    if root is None:
        raise ApiError("thread_not_found")
    return _page(ws, ws.thread(channel, root), args, newest_first=False)


def _channel(ws: Workspace, args: dict[str, Any]) -> str:
    channel = ws.channel_id(str(args.get("channel", "")))
    if channel is None:
        raise ApiError("channel_not_found")
    return channel


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros.ljust(6, "0")[:6] or 0)


def _page(
    ws: Workspace, messages: list[Message], args: dict[str, Any], *, newest_first: bool
) -> dict[str, Any]:
    in_range = _range(args)
    ordered = [m for m in messages if in_range(m.ts)]
    cursor = args.get("cursor")
    if cursor:
        start = _ts_key(_decode_cursor(str(cursor)))
        if newest_first:
            ordered = [m for m in ordered if _ts_key(m.ts) <= start]
        else:
            ordered = [m for m in ordered if _ts_key(m.ts) >= start]
    limit = _limit(args)
    shown, rest = ordered[:limit], ordered[limit:]
    with_metadata = truthy(args.get("include_all_metadata"))
    next_cursor = _encode_cursor(rest[0].ts) if rest else ""
    return {
        "messages": [ws.slack_message(m, metadata=with_metadata) for m in shown],
        "has_more": bool(rest),
        "response_metadata": {"next_cursor": next_cursor},
    }


def _range(args: dict[str, Any]) -> Callable[[str], bool]:
    oldest = _ts_key(str(args["oldest"])) if args.get("oldest") else None
    latest = _ts_key(str(args["latest"])) if args.get("latest") else None
    inclusive = truthy(args.get("inclusive"))

    def inside(ts: str) -> bool:
        key = _ts_key(ts)
        if oldest is not None and (key < oldest or (key == oldest and not inclusive)):
            return False
        return not (latest is not None and (key > latest or (key == latest and not inclusive)))

    return inside


def _limit(args: dict[str, Any]) -> int:
    raw = args.get("limit")
    if raw in (None, ""):
        return DEFAULT_LIMIT
    try:
        limit = int(str(raw))
    except ValueError:
        raise ApiError("invalid_limit") from None
    return min(max(limit, 1), MAX_LIMIT)


def _encode_cursor(ts: str) -> str:
    # Slack's cursors are opaque; this is their visible shape, base64 of "next_ts:<ts>".
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None
    digits = text.removeprefix("next_ts:")
    if not text.startswith("next_ts:") or not digits.isdigit() or len(digits) <= 6:
        raise ApiError("invalid_cursor")
    return f"{digits[:-6]}.{digits[-6:]}"
