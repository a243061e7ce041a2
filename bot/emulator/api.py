"""The emulator's fake Slack Web API (`/api/{method}`) and `response_url` endpoint.

Answers follow Slack's shapes and error codes closely enough that the real `AsyncWebClient`
and Bolt's `respond` cannot tell the difference for the methods the bot uses.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator import commands, faults, history, home, views
from bot.emulator.checks import message_problems
from bot.emulator.state import ApiCall, ApiError, Ephemeral, Message, Violation, Workspace

__all__ = ["METHODS", "ApiError", "call", "respond", "routes"]

# Methods whose `text` is the fallback for notifications and screen readers when blocks are sent.
FALLBACK_TEXT_METHODS = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.update", "response_url"}
)
MISSING_TEXT = (
    "blocks were sent without `text`: Slack accepts it, but notifications and screen readers "
    "show the top-level text [json-pointer:/text]"
)

Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]


async def read_args(request: Request) -> dict[str, Any]:
    """Query string, form fields and JSON body merged, as Slack accepts all three."""
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.body()
        if body:
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                args |= parsed
    elif request.method == "POST":
        form = await request.form()
        args |= {k: v for k, v in form.items() if isinstance(v, str)}
    return args


def _token(request: Request, args: dict[str, Any]) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return auth.removeprefix("Bearer ")
    token = args.get("token")
    return token if isinstance(token, str) else None


def _json_arg(args: dict[str, Any], name: str, error: str) -> Any:
    # Form-encoded requests carry structured arguments as JSON strings.
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(error, [f"{name} is not valid JSON [json-pointer:/{name}]"]) from None
    return value


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]] | None:
    blocks = _json_arg(args, "blocks", "invalid_blocks")
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks", ["must be an array [json-pointer:/blocks]"])
    return list(blocks)


def _channel(ws: Workspace, args: dict[str, Any]) -> str:
    given = str(args.get("channel", ""))
    if given in ws.users or given == ws.identity.bot_user_id:  # a user id: the app's DM
        return home.dm_user(ws, given)
    channel = ws.channel_id(given)
    if channel is None:
        raise ApiError("channel_not_found")
    return channel


def _text_and_blocks(args: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]] | None]:
    text, blocks = args.get("text"), _blocks(args)
    if not text and not blocks:
        raise ApiError("no_text")
    text = str(text) if text is not None else None
    problems = message_problems(text, blocks)
    if problems:
        too_long = all(p.endswith("[json-pointer:/text]") for p in problems)
        raise ApiError("msg_too_long" if too_long else "invalid_blocks", problems)
    return text, blocks


def _thread(ws: Workspace, channel: str, args: dict[str, Any]) -> str | None:
    thread_ts = args.get("thread_ts")
    if not thread_ts:
        return None
    root = ws.thread_root_ts(channel, str(thread_ts))
    if root is None:
        # Stricter than Slack (which quietly posts to the channel): a wrong thread_ts is a bug.
        raise ApiError("thread_not_found")
    return root


def auth_test(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    me = ws.identity
    return {
        "url": f"https://{me.team_domain}.slack.com/",
        "team": me.team_domain,
        "user": me.bot_name,
        "team_id": me.team_id,
        "user_id": me.bot_user_id,
        "bot_id": me.bot_id,
        "is_enterprise_install": False,
    }


def post_message(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(ws, args)
    text, blocks = _text_and_blocks(args)
    thread_ts = _thread(ws, channel, args)
    me = ws.identity
    msg = Message(
        channel, ws.next_ts(), text or "", blocks or [], thread_ts, me.bot_user_id, me.bot_id
    )
    msg.metadata = history.metadata_arg(args)
    if thread_ts and history.truthy(args.get("reply_broadcast")):
        msg.subtype = "thread_broadcast"
    ws.messages.append(msg)
    return {"channel": channel, "ts": msg.ts, "message": ws.slack_message(msg, metadata=True)}


def update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(ws, args)
    text, blocks = _text_and_blocks(args)
    try:
        msg = ws.find_message(channel, str(args.get("ts", "")))
    except LookupError:
        raise ApiError("message_not_found") from None
    if msg.bot_id != ws.identity.bot_id:
        raise ApiError("cant_update_message")
    # Like Slack, omitted fields keep their old value; `blocks=[]` is how blocks get removed.
    if text is not None:
        msg.text = text
    if blocks is not None:
        msg.blocks = blocks
    if "metadata" in args:
        # Slack: omitted keeps the old metadata, an empty object removes it.
        msg.metadata = history.metadata_arg(args)
    msg.edited_ts = ws.next_ts()
    shown = ws.slack_message(msg, metadata=True)
    return {"channel": channel, "ts": msg.ts, "text": msg.text, "message": shown}


def _reacted(ws: Workspace, args: dict[str, Any]) -> tuple[list[str], str]:
    """The users who reacted with `name` to the message, and the bot's user id."""
    channel = _channel(ws, args)
    name = str(args.get("name", "")).strip(":")
    if not name:
        raise ApiError("invalid_name")
    try:
        msg = ws.find_message(channel, str(args.get("timestamp", "")))
    except LookupError:
        raise ApiError("message_not_found") from None
    return msg.reactions.setdefault(name, []), ws.identity.bot_user_id


def reactions_add(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    users, me = _reacted(ws, args)
    if me in users:
        raise ApiError("already_reacted")
    users.append(me)
    return {}


def reactions_remove(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    users, me = _reacted(ws, args)
    if me not in users:
        raise ApiError("no_reaction")
    users.remove(me)
    return {}


def delete(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(ws, args)
    try:
        msg = ws.find_message(channel, str(args.get("ts", "")))
    except LookupError:
        raise ApiError("message_not_found") from None
    ws.messages.remove(msg)
    return {"channel": channel, "ts": msg.ts}


def post_ephemeral(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = _channel(ws, args)
    user = str(args.get("user", ""))
    if user not in ws.users:
        raise ApiError("user_not_found")
    text, blocks = _text_and_blocks(args)
    thread_ts = _thread(ws, channel, args)
    eph = Ephemeral(channel, user, text or "", ws.next_ts(), blocks or [], thread_ts)
    ws.ephemerals.append(eph)
    return {"message_ts": eph.ts}


def users_info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    uid = str(args.get("user", ""))
    me = ws.identity
    if uid == me.bot_user_id:
        name, real_name, is_bot = me.bot_name, me.bot_name, True
    elif uid in ws.users:
        u = ws.users[uid]
        name, real_name, is_bot = u.name, u.real_name, False
    else:
        raise ApiError("user_not_found")
    profile = {"display_name": name, "real_name": real_name}
    user = {"id": uid, "team_id": me.team_id, "name": name, "real_name": real_name}
    return {"user": user | {"deleted": False, "is_bot": is_bot, "profile": profile}}


def usergroups_users_list(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    group = str(args.get("usergroup", ""))
    if group not in ws.usergroups:
        raise ApiError("no_such_subteam")
    return {"users": list(ws.usergroups[group])}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "views.open": views.views_open,
    "views.update": views.views_update,
    "views.push": views.views_push,
    "views.publish": home.views_publish,
    "conversations.open": home.conversations_open,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "conversations.replies": history.conversations_replies,
    "conversations.history": history.conversations_history,
    "assistant.threads.setStatus": commands.set_status,
}


def call(ws: Workspace, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
    """Run one Web API method against `ws`, record it, and return Slack's JSON answer."""
    result: dict[str, Any]
    try:
        if not token:
            raise ApiError("not_authed")
        if token != ws.identity.bot_token:
            raise ApiError("invalid_auth")
        handler = METHODS.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        result = {"ok": True} | handler(ws, args)
    except ApiError as e:
        result = _error(ws, method, args, e)
    else:
        _check_fallback_text(ws, method, args)
    ws.calls.append(ApiCall(method, args, result))
    ws.changed()
    return result


def _error(ws: Workspace, method: str, args: dict[str, Any], e: ApiError) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": False, "error": e.code}
    if e.details:
        # Details mean the bot sent something Slack refuses: a violation tests must see.
        ws.violations.append(Violation(method, e.code, list(e.details), args))
        result["errors"] = list(e.details)
        result["response_metadata"] = {"messages": [f"[ERROR] {d}" for d in e.details]}
    return result


def _check_fallback_text(ws: Workspace, method: str, args: dict[str, Any]) -> None:
    blocks = args.get("blocks")
    if isinstance(blocks, str):  # form-encoded
        blocks = json.loads(blocks)
    if method in FALLBACK_TEXT_METHODS and blocks and not args.get("text"):
        ws.violations.append(Violation(method, "missing_text", [MISSING_TEXT], args))


def routes(ws: Workspace, wake: asyncio.Event) -> list[Route]:
    """Starlette routes for the Web API; slack_sdk uses GET for a few read methods. Calls
    hit injected faults first (`faults.py`); `wake` ends stalls early."""

    async def api(request: Request) -> Response:
        try:
            args = await read_args(request)
        except json.JSONDecodeError:
            return JSONResponse({"ok": False, "error": "invalid_json"})
        token = _token(request, args)
        args.pop("token", None)
        method = request.path_params["method"]
        fault = faults.take(ws, method, args)
        if fault is None:
            return JSONResponse(call(ws, method, args, token))
        work = functools.partial(call, ws, method, args, token)
        return await faults.answer(ws, fault, request, method, args, work, wake)

    return [Route("/api/{method}", api, methods=["GET", "POST"])]


def respond(ws: Workspace, target: Message | Ephemeral, user: str, body: dict[str, Any]) -> None:
    """Apply a `response_url` POST the way Slack does for a click on `target`."""
    try:
        blocks = _blocks(body) or []
        problems = message_problems(str(body.get("text", "")), blocks)
        if problems:
            raise ApiError("invalid_blocks", problems)
    except ApiError as e:
        ws.calls.append(ApiCall("response_url", body, _error(ws, "response_url", body, e)))
        raise
    ws.calls.append(ApiCall("response_url", body, {"ok": True}))
    ws.changed()
    if not body.get("delete_original"):
        _check_fallback_text(ws, "response_url", body)
    if body.get("delete_original"):
        if isinstance(target, Message):
            ws.messages.remove(target)
        else:
            ws.ephemerals.remove(target)
        return
    text = str(body.get("text", ""))
    if body.get("replace_original"):
        target.text, target.blocks = text, blocks
        if isinstance(target, Message):
            target.edited_ts = ws.next_ts()
        return
    thread_ts = body.get("thread_ts") or target.thread_ts
    if body.get("response_type") == "in_channel":
        me = ws.identity
        msg = Message(
            target.channel, ws.next_ts(), text, blocks, thread_ts, me.bot_user_id, me.bot_id
        )
        ws.messages.append(msg)
    else:
        ws.ephemerals.append(Ephemeral(target.channel, user, text, ws.next_ts(), blocks, thread_ts))
