"""The emulated workspace: channels, users, messages, modals, and every recorded Web API call.

Split from `bot/emulator/server.py` so the Web API and UI modules can share the state without
importing the HTTP machinery.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_CHANNELS = {"C0GENERAL": "general", "C0DEPLOYS": "deploys", "C0INCIDENTS": "incidents"}


class ApiError(Exception):
    """A Slack error code, answered as `{"ok": false, "error": code}` with HTTP 200; `details`
    become `errors` and `response_metadata.messages`, as Slack explains invalid blocks."""

    def __init__(self, code: str, details: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.details = details or []


@dataclass(frozen=True)
class User:
    """A human in the emulated workspace; `title` is only shown in the sandbox UI."""

    id: str
    name: str
    real_name: str
    title: str = ""


DEFAULT_USERS = [
    User("U0ALICE", "alice", "Alice Requester", "requester"),
    User("U0BOB", "bob", "Bob Approver", "approver"),
    User("U0CAROL", "carol", "Carol Oncall", "on-call"),
    User("U0MALLORY", "mallory", "Mallory Outsider", "outsider"),
]


@dataclass
class ApiCall:
    """One Web API call as the emulator received it (token excluded) and what it answered."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)
    fault: str | None = None  # the injected fault that answered it, e.g. "fail 500 after"


@dataclass
class Message:
    """A channel message. Roots have `thread_ts=None`; bot messages have `bot_id` set.
    `subtype` is Slack's (`thread_broadcast`, `file_share`, `bot_message`) or None;
    `metadata` is the app's `{"event_type", "event_payload"}`, if it set any."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    user: str | None = None
    bot_id: str | None = None
    edited_ts: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)  # name -> users, in order
    subtype: str | None = None
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    username: str | None = None

    @property
    def edited(self) -> bool:
        return self.edited_ts is not None


@dataclass
class Ephemeral:
    """A message only `user` can see; `ts` is the `message_ts` chat.postEphemeral returned."""

    channel: str
    user: str
    text: str
    ts: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None


@dataclass
class View:
    """A modal (or Home tab) as Slack stores it: block and action ids filled in, a fresh `hash`
    on every change. `errors` (block_id -> message) are the bot's last validation errors;
    `values` are what the user last submitted (block_id -> action_id -> Slack's state value)."""

    id: str
    user: str
    type: str
    title: dict[str, Any] | None
    blocks: list[dict[str, Any]]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    callback_id: str = ""
    private_metadata: str = ""
    external_id: str = ""
    submit: dict[str, Any] | None = None
    close: dict[str, Any] | None = None
    notify_on_close: bool = False
    clear_on_close: bool = False
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: bool = False


@dataclass
class Violation:
    """Something the bot sent that real Slack rejects or warns about (see `checks.py`)."""

    method: str
    error: str
    messages: list[str]
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trigger:
    """A `trigger_id` handed to the bot; Slack accepts it once, within 3 seconds."""

    user: str
    issued: float
    used: bool = False


@dataclass(frozen=True)
class Responder:
    """Where a `response_url` points: the clicked message (or ephemeral) and who clicked."""

    channel: str
    ts: str
    user: str
    ephemeral: bool


# A Fault is data the workspace holds; applying it to a call is bot/emulator/faults.py's job.
FaultKind = Literal["fail", "rate_limit", "stall", "refuse"]


@dataclass
class Fault:
    """One injected failure rule; `times=None` applies it to every matching call."""

    kind: FaultKind
    method: str
    times: int | None = 1
    channel: str | None = None
    status: int = 500
    after: bool = False
    seconds: float = 0.0
    error: str = ""
    retry_after: int = 1

    def describe(self) -> str:
        what = {
            "fail": f"fail {self.status}",
            "rate_limit": f"rate_limit {self.retry_after}s",
            "stall": f"stall {self.seconds}s",
            "refuse": f"refuse {self.error}",
        }[self.kind]
        return f"{what} after" if self.after else what


@dataclass(frozen=True)
class Identity:
    """Who the bot is in the emulated workspace."""

    team_id: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str = "A0HITLAPP"
    team_domain: str = "sandbox"
    bot_name: str = "hitl"


class Workspace:
    """Mutable emulator state; every list is appended to in the order things happened."""

    def __init__(self, identity: Identity, *, trigger_ttl: float = 3.0) -> None:
        self.identity = identity
        self.trigger_ttl = trigger_ttl
        self.channels: dict[str, str] = dict(DEFAULT_CHANNELS)
        self.users: dict[str, User] = {u.id: u for u in DEFAULT_USERS}
        # User-group id (S…) -> member user ids, for usergroups.users.list.
        self.usergroups: dict[str, list[str]] = {}
        self.calls: list[ApiCall] = []
        self.messages: list[Message] = []
        self.ephemerals: list[Ephemeral] = []
        self.views: list[View] = []
        # Each user's App Home view (bot/emulator/home.py); never one of the modals above.
        self.homes: dict[str, View] = {}
        self.violations: list[Violation] = []
        self.triggers: dict[str, Trigger] = {}
        self.responders: dict[str, Responder] = {}  # response_url key -> its target
        # "channel thread_ts" -> the app's status line there (assistant.threads.setStatus).
        self.statuses: dict[str, str] = {}
        # Injected failures (see `faults.py`), consumed in order.
        self.faults: list[Fault] = []
        # Slack ts values are unique per channel; one global counter keeps them strictly
        # increasing everywhere, which also makes "post order" and "ts order" agree. Both
        # counters also stay at or above the wall clock, so ids issued after a restart never
        # repeat earlier ones even if the last state save was lost.
        self.last_micros = 0
        self.last_id = 0
        self.version = 0  # bumped by `changed()`; the state file saves when it moves

    def changed(self) -> None:
        """Note that state worth saving changed (see `persist.py`)."""
        self.version += 1

    def next_ts(self) -> str:
        self.last_micros = max(self.last_micros + 100, int(time.time() * 1_000_000))
        return f"{self.last_micros // 1_000_000}.{self.last_micros % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        self.last_id = max(self.last_id + 1, int(time.time() * 1000))
        return f"{prefix}{self.last_id:08d}"

    def issue_trigger(self, user: str) -> str:
        trigger_id = f"{self.next_id('')}.{self.identity.team_id}.{secrets.token_hex(8)}"
        self.triggers[trigger_id] = Trigger(user, time.monotonic())
        return trigger_id

    def open_views(self, user: str | None = None) -> list[View]:
        """Views not closed yet, oldest first; per user that is the modal stack, top last."""
        return [v for v in self.views if not v.closed and (user is None or v.user == user)]

    def find_view(self, *, view_id: str | None = None, external_id: str | None = None) -> View:
        for v in self.views:
            if (view_id and v.id == view_id) or (external_id and v.external_id == external_id):
                return v
        raise LookupError(f"no view {view_id or external_id!r}")

    def channel_id(self, channel: str) -> str | None:
        """Resolve an id, `#name` or `name` to a known channel id (DM ids `D…` are always known).
        A user's ID names the bot's DM with them, as chat.postMessage takes it."""
        if channel in self.channels:
            return channel
        if channel in self.users:
            return self.channel_id(dm_with(channel))
        name = channel.removeprefix("#")
        for cid, cname in self.channels.items():
            if cname == name:
                return cid
        if channel.startswith("D") and channel[1:].isalnum() and channel.isupper():
            self.channels[channel] = channel
            return channel
        return None

    def find_message(self, channel: str, ts: str) -> Message:
        for m in self.messages:
            if m.channel == channel and m.ts == ts:
                return m
        raise LookupError(f"no message {ts} in {channel}")

    def find_ephemeral(self, channel: str, ts: str) -> Ephemeral:
        for e in self.ephemerals:
            if e.channel == channel and e.ts == ts:
                return e
        raise LookupError(f"no ephemeral message {ts} in {channel}")

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.channel == channel and (m.ts == thread_ts or m.thread_ts == thread_ts)
        ]

    def thread_root_ts(self, channel: str, thread_ts: str) -> str | None:
        """Slack files a reply-to-a-reply under the root; None if `thread_ts` is unknown."""
        try:
            found = self.find_message(channel, thread_ts)
        except LookupError:
            return None
        return found.thread_ts or found.ts

    def slack_message(self, m: Message, *, metadata: bool = False) -> dict[str, Any]:
        """`m` shaped as Slack returns it from the Web API and inside interaction payloads;
        its `metadata` only if asked (Slack: `include_all_metadata`)."""
        out: dict[str, Any] = {"type": "message", "text": m.text, "ts": m.ts}
        out["team"] = self.identity.team_id
        if m.subtype is not None:
            out["subtype"] = m.subtype
        if m.user is not None:
            out["user"] = m.user
        if m.bot_id is not None:
            out["bot_id"] = m.bot_id
        if m.bot_id == self.identity.bot_id:
            out["app_id"] = self.identity.app_id
        if m.username is not None:
            out["username"] = m.username
        if m.blocks:
            out["blocks"] = m.blocks
        if m.files:
            out |= {"files": m.files, "upload": False, "display_as_bot": False}
        if metadata and m.metadata is not None:
            out["metadata"] = m.metadata
        out |= self._thread_fields(m)
        if m.edited_ts is not None:
            out["edited"] = {"user": m.user, "ts": m.edited_ts}
        return out

    def _thread_fields(self, m: Message) -> dict[str, Any]:
        if m.thread_ts is not None:
            return {"thread_ts": m.thread_ts}
        replies = [r for r in self.messages if r.channel == m.channel and r.thread_ts == m.ts]
        if not replies:
            return {}
        return {"thread_ts": m.ts, "reply_count": len(replies), "latest_reply": replies[-1].ts}

    def slack_view(
        self, v: View, values: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """`v` shaped as views.* methods answer and as view payloads carry it."""
        me = self.identity
        out: dict[str, Any] = {"id": v.id, "team_id": me.team_id, "type": v.type}
        out |= {"blocks": v.blocks, "private_metadata": v.private_metadata}
        out |= {"callback_id": v.callback_id, "state": {"values": values or {}}, "hash": v.hash}
        out |= {"title": v.title, "clear_on_close": v.clear_on_close}
        out |= {"notify_on_close": v.notify_on_close, "close": v.close, "submit": v.submit}
        out |= {"previous_view_id": v.previous_view_id, "root_view_id": v.root_view_id}
        out |= {"app_id": me.app_id, "external_id": v.external_id}
        out |= {"app_installed_team_id": me.team_id, "bot_id": me.bot_id}
        return out


def dm_with(user: str) -> str:
    """The ID of the bot's direct-message channel with `user`."""
    return f"D{user}"
