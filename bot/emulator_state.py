"""The emulated workspace: channels, users, messages and every recorded Web API call.

Split from `bot/emulator.py` so the Web API and UI modules can share the state without
importing the HTTP machinery.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CHANNELS = {"C0GENERAL": "general", "C0DEPLOYS": "deploys", "C0INCIDENTS": "incidents"}


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


@dataclass
class Message:
    """A channel message. Roots have `thread_ts=None`; bot messages have `bot_id` set."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    user: str | None = None
    bot_id: str | None = None
    edited_ts: str | None = None

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

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.channels: dict[str, str] = dict(DEFAULT_CHANNELS)
        self.users: dict[str, User] = {u.id: u for u in DEFAULT_USERS}
        self.calls: list[ApiCall] = []
        self.messages: list[Message] = []
        self.ephemerals: list[Ephemeral] = []
        self.views: list[dict[str, Any]] = []
        self.trigger_ids: set[str] = set()
        # Slack ts values are unique per channel; one global counter keeps them strictly
        # increasing everywhere, which also makes "post order" and "ts order" agree.
        self._micros = int(time.time()) * 1_000_000
        self._ids = itertools.count(1)

    def next_ts(self) -> str:
        self._micros += 100
        return f"{self._micros // 1_000_000}.{self._micros % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def channel_id(self, channel: str) -> str | None:
        """Resolve an id, `#name` or `name` to a known channel id (DM ids `D…` are always known)."""
        if channel in self.channels:
            return channel
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

    def slack_message(self, m: Message) -> dict[str, Any]:
        """`m` shaped as Slack returns it from the Web API and inside interaction payloads."""
        out: dict[str, Any] = {"type": "message", "text": m.text, "ts": m.ts}
        out["team"] = self.identity.team_id
        if m.user is not None:
            out["user"] = m.user
        if m.bot_id is not None:
            out["bot_id"] = m.bot_id
            out["app_id"] = self.identity.app_id
        if m.blocks:
            out["blocks"] = m.blocks
        if m.thread_ts is not None:
            out["thread_ts"] = m.thread_ts
        else:
            replies = [r for r in self.messages if r.channel == m.channel and r.thread_ts == m.ts]
            if replies:
                out |= {"thread_ts": m.ts, "reply_count": len(replies)}
                out["latest_reply"] = replies[-1].ts
        if m.edited_ts is not None:
            out["edited"] = {"user": m.user, "ts": m.edited_ts}
        return out
