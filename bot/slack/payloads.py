"""Slack payloads as typed models. Raw dicts stop here: the rest of the bot sees these."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from agents.runtime.thread import SlackOrigin

_MENTION = re.compile(r"<@([A-Z0-9]+)>")


PERSON_SUBTYPES: frozenset[str | None] = frozenset({None, "thread_broadcast", "file_share"})
"""Subtypes of a message a person just wrote: a plain one, a thread reply also sent to the
channel ("Also send to #channel"), one with files attached. Every other subtype is an edit, a
deletion, a bot's post or something Slack wrote (`channel_join`...), never a person's input."""


class SharedFile(BaseModel):
    """A file attached to a message; Slack Connect files may carry no name at all."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str | None = None
    title: str | None = None


class MessageEvent(BaseModel):
    """An `app_mention` or `message` event."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    channel: str
    ts: str
    text: str | None = None
    user: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    files: list[SharedFile] = []
    edited: dict[str, Any] | None = None
    hidden: bool = False

    @property
    def origin(self) -> SlackOrigin:
        """The Slack thread this message belongs to (its own ts for a top-level message)."""
        return SlackOrigin(channel=self.channel, thread_ts=self.thread_ts or self.ts)

    @property
    def from_person(self) -> bool:
        """A person's new message: not a bot's, not an edit (an `app_mention` of an edited
        message carries `edited`), not something Slack wrote about the conversation."""
        return (
            self.user is not None
            and self.bot_id is None
            and self.subtype in PERSON_SUBTYPES
            and self.edited is None
            and not self.hidden
        )

    @property
    def said(self) -> str:
        """What the person said. A message that is only files (say, a screenshot answering a
        question) still says something: which files, so the agent and the audit trail see it."""
        text = self.text or ""
        if text.strip() or not self.files:
            return text
        names = ", ".join(f.name or f.title or "unnamed" for f in self.files)
        return f"(shared {'file' if len(self.files) == 1 else 'files'}: {names})"

    def mentions(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in _MENTION.findall(self.text or "")


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
    """One button click from a `block_actions` payload: `channel` and `message_ts` name the
    message it was on (its container), `ephemeral` whether that was an ephemeral copy."""

    model_config = ConfigDict(frozen=True)
    user: str
    channel: str
    message_ts: str | None
    action_id: str
    value: str | None
    trigger_id: str | None = None
    ephemeral: bool = False
    view_id: str | None = None
    """Set for a click in a view the app published (the Home tab): which view; `channel` is
    then empty and `message_ts` None."""


class Submission(BaseModel):
    """A submitted modal: who, which one, what it was about, and each field's value."""

    model_config = ConfigDict(frozen=True)
    user: str
    callback_id: str
    private_metadata: str
    values: dict[str, str | None]
    external_id: str = ""
    """The view's `external_id`: which opening of a form by the bot this is."""


def message_event(body: dict[str, Any]) -> MessageEvent | None:
    try:
        return MessageEvent.model_validate(body.get("event") or {})
    except ValidationError:
        return None


def click(body: dict[str, Any]) -> Click | None:
    try:
        action = body["actions"][0]
        container = body.get("container") or {}
        if container.get("type") == "view":
            return _view_click(body, action, container)
        return Click(
            user=body["user"]["id"],
            # The container is the message clicked; a click is bound to it, so it wins.
            channel=container.get("channel_id") or body["channel"]["id"],
            message_ts=container.get("message_ts"),
            action_id=action["action_id"],
            value=action.get("value"),
            trigger_id=body.get("trigger_id"),
            ephemeral=container.get("is_ephemeral") is True,
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return None


def _view_click(body: dict[str, Any], action: dict[str, Any], container: dict[str, Any]) -> Click:
    """A click in the Home tab: bound to the view it was in."""
    view = body.get("view") or {}
    if view.get("type") != "home" or view.get("id") != container.get("view_id"):
        raise ValueError("a click in a view that is not a Home tab")
    return Click(
        user=body["user"]["id"],
        channel="",
        message_ts=None,
        action_id=action["action_id"],
        value=action.get("value"),
        trigger_id=body.get("trigger_id"),
        view_id=str(container["view_id"]),
    )


def home_opened(body: dict[str, Any]) -> str | None:
    """The user who opened the app's Home tab (not its Messages or About tab), if that is
    what an `app_home_opened` event says."""
    event = body.get("event") or {}
    user = event.get("user")
    return user if event.get("tab") == "home" and isinstance(user, str) and user else None


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
            external_id=view.get("external_id") or "",
        )
    except (KeyError, TypeError, AttributeError, ValidationError):
        return None
