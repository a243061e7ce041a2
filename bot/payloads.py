"""Slack payloads as typed models. Raw dicts stop here: the rest of the bot sees these."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.thread import SlackOrigin

_MENTION = re.compile(r"<@([A-Z0-9]+)>")


class MessageEvent(BaseModel):
    """An `app_mention` or `message` event."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    channel: str
    ts: str
    text: str = ""
    user: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None

    @property
    def origin(self) -> SlackOrigin:
        """The Slack thread this message belongs to (its own ts for a top-level message)."""
        return SlackOrigin(channel=self.channel, thread_ts=self.thread_ts or self.ts)

    @property
    def from_person(self) -> bool:
        return self.user is not None and self.bot_id is None and self.subtype is None

    def mentions(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in _MENTION.findall(self.text)


class RequestRef(BaseModel):
    """What a button or modal of a human request carries: the request, the hash of the exact
    call it shows (approvals), and the answer a button stands for (questions)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    thread_id: str
    call_id: str
    action_hash: str = ""
    answer: str | None = None

    def encode(self) -> str:
        return self.model_dump_json(exclude_defaults=True)


class Click(BaseModel):
    """One button click from a `block_actions` payload."""

    model_config = ConfigDict(frozen=True)
    user: str
    channel: str
    message_ts: str | None
    action_id: str
    value: str | None
    trigger_id: str | None = None


class Submission(BaseModel):
    """A submitted modal: who, which one, what it was about, and each field's value."""

    model_config = ConfigDict(frozen=True)
    user: str
    callback_id: str
    private_metadata: str
    values: dict[str, str | None]


def message_event(body: dict[str, Any]) -> MessageEvent | None:
    try:
        return MessageEvent.model_validate(body.get("event") or {})
    except ValidationError:
        return None


def click(body: dict[str, Any]) -> Click | None:
    try:
        action = body["actions"][0]
        container = body.get("container") or {}
        return Click(
            user=body["user"]["id"],
            channel=(body.get("channel") or {}).get("id") or container["channel_id"],
            message_ts=container.get("message_ts"),
            action_id=action["action_id"],
            value=action.get("value"),
            trigger_id=body.get("trigger_id"),
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValidationError):
        return None


def request_ref(value: str | None) -> RequestRef | None:
    if not value:
        return None
    try:
        return RequestRef.model_validate(json.loads(value))
    except (ValueError, ValidationError):
        return None


def submission(body: dict[str, Any]) -> Submission | None:
    """A `view_submission`; each input's value (text, or the selected option's value)."""
    try:
        view = body["view"]
        values: dict[str, str | None] = {}
        for block_id, actions in view["state"]["values"].items():
            for state in actions.values():
                selected = state.get("selected_option")
                values[block_id] = selected["value"] if selected else state.get("value")
        return Submission(
            user=body["user"]["id"],
            callback_id=view["callback_id"],
            private_metadata=view.get("private_metadata", ""),
            values=values,
        )
    except (KeyError, TypeError, AttributeError, ValidationError):
        return None
