"""A local Slack at the process boundary, for scenario tests and `hitl sandbox`.

The real `AsyncWebClient` calls its Web API (`api_url`); it delivers signed Events API and
interactivity requests to the real Bolt app at `events_url`, shaped as Slack sends them, and
redelivers events like Slack when asked to (`retries=True`). State lives in `state.py`, Web API
methods in `api.py` (modals in `views.py`, reading history in `history.py`, Slack's limits in
`checks.py`), injected failures in `faults.py`, the state file in `persist.py`, the browser UI in
`ui.py`. This package imports nothing of the bot: it is Slack, seen from outside.

Past 500 lines because this is the one facade tests drive: what a person does (post, edit,
delete, click, submit) and how Slack fails (fail, stall, refuse, rate_limit) read as one API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.emulator import api, commands, home, ui, views
from bot.emulator.payloads import (
    block_actions,
    event_callback,
    file_objects,
    message_changed,
    message_deleted,
    rich_text,
    user_event,
    view_closed,
    view_submission,
)
from bot.emulator.persist import StateFile
from bot.emulator.state import (
    ApiCall,
    Ephemeral,
    Fault,
    Identity,
    Message,
    Responder,
    User,
    View,
    Violation,
    Workspace,
)
from bot.emulator.views import IncompleteView

__all__ = [
    "ApiCall",
    "Delivery",
    "Ephemeral",
    "IncompleteView",
    "Message",
    "SlackEmulator",
    "User",
    "View",
    "Violation",
]

FORM = "application/x-www-form-urlencoded"
# Slack redelivers an event 3 times: at once, after 1 minute, after 5 minutes. The emulator
# keeps the count and the headers but compresses the waits to seconds by default.
RETRY_DELAYS = (0.0, 1.0, 5.0)


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
        retries: bool = False,
        ack_timeout: float = 3.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        trigger_ttl: float = 3.0,
        state_dir: Path | None = None,
    ) -> None:
        """`retries`: redeliver an event like Slack when the bot does not answer 2xx within
        `ack_timeout` seconds (waiting `retry_delays` before each retry). `trigger_ttl`: how
        long a trigger_id stays valid (Slack: 3 s). `state_dir`: keep the workspace in
        `state_dir/emulator.json` across restarts (None: in memory only)."""
        self.identity = Identity(team_id, bot_token, bot_user_id, bot_id)
        self.workspace = Workspace(self.identity, trigger_ttl=trigger_ttl)
        self.events_url = events_url
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.retry_delays = tuple(retry_delays)
        self._verifier = SignatureVerifier(signing_secret)
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._url = ""
        self._wake = asyncio.Event()  # set on stop: stalled answers return at once
        self._state = StateFile(self.workspace, state_dir) if state_dir is not None else None
        if self._state is not None:
            self._state.load()
        self._saving: asyncio.Task[None] | None = None
        response_route = Route("/response/{key}", self._response_url, methods=["POST"])
        api_routes = api.routes(self.workspace, self._wake)
        self.app = Starlette(routes=[*api_routes, response_route, *ui.routes(self)])

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
    def views(self) -> list[View]:
        """Every view ever opened, closed ones included; see `open_views`."""
        return self.workspace.views

    @property
    def violations(self) -> list[Violation]:
        """What the bot sent that real Slack would refuse or warn about; tests assert none."""
        return self.workspace.violations

    def open_views(self, user: str | None = None) -> list[View]:
        """Modals open now (for `user`), oldest first: a user's stack has its top last."""
        return self.workspace.open_views(user)

    def add_usergroup(self, group_id: str, members: list[str]) -> None:
        """A user group (S…) whose members usergroups.users.list returns."""
        self.workspace.usergroups[group_id] = list(members)
        self.workspace.changed()

    # Failures on demand. Each adds a rule for Web API `method` (only calls whose `channel`
    # argument is `channel`, if given); a call takes the first matching rule, in order.

    def fail(
        self,
        method: str,
        *,
        status: int = 500,
        times: int | None = 1,
        after: bool = False,
        channel: str | None = None,
    ) -> None:
        """Answer HTTP `status` (5xx): 500 with `{"ok": false, "error": "internal_error"}`,
        others with a gateway's HTML page. `after=True`: the work is done first (the message
        is posted or updated), then the error is answered, as when Slack fails late."""
        if not 500 <= status <= 599:
            raise ValueError(f"fail() answers a 5xx status, not {status}")
        self._add_fault(Fault("fail", method, times, channel, status=status, after=after))

    def rate_limit(self, method: str, *, times: int | None = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        self._add_fault(Fault("rate_limit", method, times, retry_after=retry_after))

    def stall(
        self,
        method: str,
        *,
        seconds: float,
        times: int | None = 1,
        after: bool = False,
        channel: str | None = None,
    ) -> None:
        """Answer only after `seconds`. `after=False`: the work is done at the end, and only if
        the client still waits (one that timed out left nothing behind); `after=True`: the
        work is done at once, then the answer is held (the client's retry must not repeat
        it). `stop()` ends stalls early."""
        self._add_fault(Fault("stall", method, times, channel, seconds=seconds, after=after))

    def refuse(
        self, method: str, error: str, *, times: int | None = None, channel: str | None = None
    ) -> None:
        """Answer `{"ok": false, "error": error}` with HTTP 200 and do nothing, e.g.
        `not_in_channel`, `channel_not_found`, `is_archived`, `msg_too_long`."""
        self._add_fault(Fault("refuse", method, times, channel, error=error))

    def clear_faults(self) -> None:
        """Remove every fault rule; calls succeed again."""
        self.workspace.faults.clear()

    def _add_fault(self, fault: Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be at least 1, or None for every call")
        self.workspace.faults.append(fault)

    @property
    def channels(self) -> dict[str, str]:
        return self.workspace.channels

    @property
    def users(self) -> dict[str, User]:
        return self.workspace.users

    def add_channel(self, channel_id: str, name: str) -> None:
        self.workspace.channels[channel_id] = name
        self.workspace.changed()

    def add_user(self, user_id: str, name: str, *, real_name: str = "", title: str = "") -> None:
        self.workspace.users[user_id] = User(user_id, name, real_name or name, title)
        self.workspace.changed()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("SlackEmulator is not started")
        return self._url

    @property
    def api_url(self) -> str:
        """The `base_url` for slack_sdk clients (with the trailing slash it expects)."""
        return f"{self.url}/api/"

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._wake.clear()
        await self._serve(host, port)
        if self._state is not None:
            self._saving = asyncio.create_task(self._state.run())

    async def _serve(self, host: str, port: int) -> None:
        # uvicorn inside the caller's event loop; the caller owns signals (no capture).
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()  # re-raises a bind error
                raise RuntimeError("the emulator stopped before it started")
            await asyncio.sleep(0.005)
        bound = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._serving, self._url = server, serving, f"http://{host}:{bound}"

    async def stop(self) -> None:
        self._wake.set()
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
            self._server = self._serving = None
        if self._state is not None:
            await self._state.close(self._saving)
            self._saving = None

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
        self,
        *,
        user: str,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        broadcast: bool = False,
        files: Sequence[str | dict[str, Any]] = (),
    ) -> Delivery:
        """Store a user's message, then deliver its `app_mention` (if any) and `message` events.
        `broadcast=True`: a thread reply also sent to the channel (subtype `thread_broadcast`);
        `files` (names, or partial Slack file objects): an upload (subtype `file_share`)."""
        ws = self.workspace
        channel_id, root = self._where(channel, thread_ts)
        if user not in ws.users:
            raise LookupError(f"unknown user {user!r}")
        if broadcast and (root is None or files):
            raise ValueError("broadcast=True needs thread_ts and no files")
        blocks = [rich_text(text, ws.next_id("rt"))] if text else []
        msg = Message(channel_id, ws.next_ts(), text, blocks, root, user)
        if files:
            msg.subtype, msg.files = "file_share", file_objects(ws, user, files)
        elif broadcast:
            msg.subtype = "thread_broadcast"
        return await self._deliver_new(msg)

    async def post_bot_message(
        self,
        *,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        bot_id: str = "B0OTHERBOT",
        username: str = "other-bot",
    ) -> Delivery:
        """Another app's message (subtype `bot_message`, `bot_id` set, no `user`), delivered
        as a `message` event like any other."""
        ws = self.workspace
        channel_id, root = self._where(channel, thread_ts)
        msg = Message(channel_id, ws.next_ts(), text, [], root, None, bot_id)
        msg.subtype, msg.username = "bot_message", username
        return await self._deliver_new(msg)

    async def edit_message(self, *, message: Message, text: str) -> Delivery:
        """Its author edits `message`: the stored message changes and the bot gets a
        `message_changed` event with `message` and `previous_message`."""
        ws = self.workspace
        stored = self.find_message(message.channel, message.ts)
        previous = ws.slack_message(stored)
        stored.text, stored.edited_ts = text, ws.next_ts()
        if stored.user is not None:
            stored.blocks = [rich_text(text, ws.next_id("rt"))]
        ws.changed()
        event = message_changed(ws, stored, previous, event_ts=stored.edited_ts)
        return await self._deliver(stored, [event])

    async def delete_message(self, *, message: Message) -> Delivery:
        """Someone deletes `message`: it leaves the channel and the bot gets a
        `message_deleted` event with `deleted_ts` and `previous_message`."""
        ws = self.workspace
        stored = self.find_message(message.channel, message.ts)
        previous = ws.slack_message(stored)
        ws.messages.remove(stored)
        ws.changed()
        return await self._deliver(stored, [message_deleted(ws, stored, previous, ws.next_ts())])

    def _where(self, channel: str, thread_ts: str | None) -> tuple[str, str | None]:
        ws = self.workspace
        channel_id = ws.channel_id(channel)
        if channel_id is None:
            raise LookupError(f"unknown channel {channel!r}")
        root = ws.thread_root_ts(channel_id, thread_ts) if thread_ts else None
        if thread_ts and root is None:
            raise LookupError(f"no thread {thread_ts} in {channel_id}")
        if self.events_url is None:
            raise RuntimeError("events_url is not set; nowhere to deliver the message")
        return channel_id, root

    async def _deliver_new(self, msg: Message) -> Delivery:
        ws = self.workspace
        ws.messages.append(msg)
        ws.changed()
        kinds = ["message"]
        # Slack sends app_mention only in channels; a DM reaches the app as message.im alone.
        mentioned = f"<@{self.identity.bot_user_id}>" in msg.text and msg.user is not None
        if mentioned and not msg.channel.startswith("D"):
            kinds.insert(0, "app_mention")
        return await self._deliver(msg, [user_event(ws, kind, msg) for kind in kinds])

    async def _deliver(self, msg: Message, events: list[dict[str, Any]]) -> Delivery:
        delivery = Delivery(msg)
        for event in events:
            body = json.dumps(event_callback(self.workspace, event))
            delivery.responses.append(await self.deliver_event(body))
        return delivery

    async def deliver_event(self, body: str) -> httpx.Response:
        """POST an Events API `body`; with `retries`, redeliver it as Slack does when the bot
        times out (`http_timeout`), cannot be reached or answers non-2xx, unless the bot
        answers `X-Slack-No-Retry: 1`. Returns the last answer; raises TimeoutError if none."""
        if not self.retries:
            return await self.deliver(body, content_type="application/json")
        last: httpx.Response | None = None
        reason = ""
        for attempt in range(len(self.retry_delays) + 1):
            headers: dict[str, str] = {}
            if attempt:
                await asyncio.sleep(self.retry_delays[attempt - 1])
                headers = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason}
            try:
                last = await self.deliver(
                    body, content_type="application/json", headers=headers, wait=self.ack_timeout
                )
            except httpx.TimeoutException:
                reason = "http_timeout"
                continue
            except httpx.TransportError:
                reason = "connection_failed"
                continue
            if last.is_success or last.headers.get("x-slack-no-retry") == "1":
                return last
            reason = "http_error"
        if last is None:
            raise TimeoutError(f"the bot did not answer the event in {self.ack_timeout}s, 4 times")
        return last

    async def click(
        self, *, user: str, message: Message | Ephemeral, action_id: str
    ) -> httpx.Response:
        """Click the button `action_id` on `message` as `user` sees it.

        Stored messages are updated in place, so passing one clicks its current version; a
        `copy.deepcopy` taken earlier clicks what a client that missed the update still shows.
        Raises LookupError if `message` is gone from the channel or has no such button.
        """
        return await self._act(user, message, action_id, None)

    async def select(
        self, *, user: str, message: Message | Ephemeral, action_id: str, value: str
    ) -> httpx.Response:
        """Pick the option whose value is `value` in the static_select `action_id` of
        `message` as `user`; LookupError if there is no such select or option."""
        return await self._act(user, message, action_id, value)

    async def _act(
        self, user: str, message: Message | Ephemeral, action_id: str, value: str | None
    ) -> httpx.Response:
        ws = self.workspace
        stored: Message | Ephemeral
        if isinstance(message, Message):
            stored = self.find_message(message.channel, message.ts)
        else:
            stored = ws.find_ephemeral(message.channel, message.ts)
        key = secrets.token_hex(8)
        is_eph = isinstance(stored, Ephemeral)
        ws.responders[key] = Responder(stored.channel, stored.ts, user, is_eph)
        ws.changed()
        payload = block_actions(
            ws,
            user=user,
            target=message,
            action_id=action_id,
            trigger_id=ws.issue_trigger(user),
            response_url=f"{self.url}/response/{key}",
            value=value,
        )
        return await self.deliver(urlencode({"payload": json.dumps(payload)}), content_type=FORM)

    async def slash_command(
        self, *, user: str, channel: str, text: str, command: str = "/hitl"
    ) -> httpx.Response:
        """Run `command text` in `channel` as `user`. Like Slack, the text of the app's answer
        (its ack) is shown to `user` alone, as an ephemeral in `channel`."""
        ws = self.workspace
        fields = commands.slash_command(
            ws,
            user=user,
            channel=channel,
            command=command,
            text=text,
            trigger_id=ws.issue_trigger(user),
            response_url=f"{self.url}/response/{secrets.token_hex(8)}",
        )
        response = await self.deliver(urlencode(fields), content_type=FORM)
        shown = _ack_text(response)
        if shown:
            ws.ephemerals.append(Ephemeral(channel, user, shown, ws.next_ts()))
            ws.changed()
        return response

    async def shortcut(self, *, user: str, message: Message, callback_id: str) -> httpx.Response:
        """Pick message shortcut `callback_id` on `message` as `user` (a `message_action`)."""
        ws = self.workspace
        payload = commands.message_action(
            ws,
            user=user,
            message=self.find_message(message.channel, message.ts),
            callback_id=callback_id,
            trigger_id=ws.issue_trigger(user),
            response_url=f"{self.url}/response/{secrets.token_hex(8)}",
        )
        return await self.deliver(urlencode({"payload": json.dumps(payload)}), content_type=FORM)

    def status(self, channel: str, thread_ts: str) -> str:
        """The app's status line in a thread ("" when none is shown)."""
        return self.workspace.statuses.get(commands.status_key(channel, thread_ts), "")

    def home(self, user: str) -> View:
        """The Home view the app last published for `user`; LookupError if none."""
        found = self.workspace.homes.get(user)
        if found is None:
            raise LookupError(f"the app published no Home view for {user}")
        return found

    def dm(self, user: str) -> list[Message]:
        """The messages of the app's DM with `user`, oldest first."""
        return [m for m in self.workspace.messages if m.channel == home.dm_channel(user)]

    async def open_home(self, user: str) -> httpx.Response:
        """`user` opens the app's Home tab: Slack sends `app_home_opened`."""
        body = json.dumps(home.home_opened(self.workspace, user))
        return await self.deliver_event(body)

    async def click_home(
        self, *, user: str, block_id: str, action_id: str, view: View | None = None
    ) -> httpx.Response:
        """Click button `action_id` of block `block_id` in `user`'s Home view (or in `view`,
        say a copy taken before the app published it again); LookupError if there is none."""
        ws = self.workspace
        shown = view if view is not None else self.home(user)
        payload = home.home_click(
            ws,
            user=user,
            view=shown,
            block_id=block_id,
            action_id=action_id,
            trigger_id=ws.issue_trigger(user),
        )
        return await self.deliver(urlencode({"payload": json.dumps(payload)}), content_type=FORM)

    async def submit_view(
        self, *, user: str, view: View, values: dict[str, dict[str, Any]] | None = None
    ) -> httpx.Response:
        """Press Submit on `view` as `user` after entering `values`: block_id -> {action_id:
        value}, a str for text inputs, the option's `value` for static_select (a list for
        multi-selects); inputs left out keep their initial value.

        Slack's client checks required fields and lengths first: if one fails, nothing is
        sent, the errors are set on the view and IncompleteView is raised. Otherwise the
        bot's answer is applied: `errors` are stored on the view (which stays open),
        `update` replaces it, `push` stacks a new one, `clear` closes all, empty closes it.
        Raises LookupError if `view` is not the user's top modal or has no such inputs.
        """
        ws = self.workspace
        stored = self._top_view(user, view)
        state, problems = views.submission_state(stored, values or {})
        stored.values = state
        stored.errors = problems
        ws.changed()
        if problems:
            raise IncompleteView(problems)
        payload = view_submission(
            ws, user=user, view=stored, state=state, trigger_id=ws.issue_trigger(user)
        )
        response = await self.deliver(
            urlencode({"payload": json.dumps(payload)}), content_type=FORM
        )
        views.apply_answer(ws, stored, response.status_code, response.content)
        ws.changed()
        return response

    async def close_view(self, *, user: str, view: View) -> httpx.Response | None:
        """Press Cancel (or the close button) on `view` as `user`. Slack tells the bot
        (`view_closed`) only if the view set `notify_on_close`; returns its answer then."""
        stored = self._top_view(user, view)
        closing = self.open_views(user) if stored.clear_on_close else [stored]
        for v in closing:
            v.closed = True
        self.workspace.changed()
        if not stored.notify_on_close:
            return None
        payload = view_closed(self.workspace, user=user, view=stored, cleared=stored.clear_on_close)
        return await self.deliver(urlencode({"payload": json.dumps(payload)}), content_type=FORM)

    def _top_view(self, user: str, view: View) -> View:
        stack = self.open_views(user)
        if not stack or stack[-1].id != view.id:
            shown = [v.id for v in stack]
            raise LookupError(f"{view.id} is not {user}'s top modal; open for them: {shown}")
        return stack[-1]

    async def deliver(
        self,
        body: str,
        *,
        content_type: str,
        signature: str | None = None,
        timestamp: str | None = None,
        headers: dict[str, str] | None = None,
        wait: float = 10.0,
    ) -> httpx.Response:
        """POST `body` to `events_url` signed like Slack, waiting `wait` seconds for an answer;
        overrides let tests forge bad requests."""
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
        async with httpx.AsyncClient(timeout=wait) as client:
            return await client.post(self.events_url, content=body.encode(), headers=sent)

    async def _response_url(self, request: Request) -> JSONResponse:
        ws = self.workspace
        found = ws.responders.get(request.path_params["key"])
        if found is None:
            return JSONResponse({"ok": False, "error": "expired_url"}, status_code=404)
        target: Message | Ephemeral
        try:
            if found.ephemeral:
                target = ws.find_ephemeral(found.channel, found.ts)
            else:
                target = ws.find_message(found.channel, found.ts)
        except LookupError:
            return JSONResponse({"ok": False, "error": "message_not_found"}, status_code=404)
        try:
            api.respond(ws, target, found.user, await request.json())
        except api.ApiError as e:
            return JSONResponse({"ok": False, "error": e.code}, status_code=400)
        return JSONResponse({"ok": True})


def _ack_text(response: httpx.Response) -> str:
    """What Slack shows of a slash command's answer: its text, or the plain body."""
    if not response.is_success or not response.content:
        return ""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("text") or "") if isinstance(body, dict) else ""
