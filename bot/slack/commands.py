"""The /hitl slash command and the "Ask hitl about this" message shortcut.

/hitl answers with its ack, which Slack shows to the person alone: that works even in a channel
the bot is not in, and gives the request back when nothing could be started. A request is posted
as a message ("@alice asked: ...") and a `Launch` job starts the agent in its thread, as the
thread API does. The shortcut opens a modal asking what to do; its submission starts work in the
picked message's thread with that message quoted as context."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from pydantic import BaseModel, ValidationError
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime.agent import Agent
from agents.runtime.jobs import JobQueue, Launch, Reply
from agents.runtime.store import ThreadStore
from agents.runtime.thread import SlackOrigin
from agents.runtime.types import Directory
from bot.slack import command_messages as say
from bot.slack import inbox
from bot.slack.limits import cut

log = logging.getLogger(__name__)

COMMAND = "/hitl"
SHORTCUT = "ask_hitl"
ASK_VIEW = "hitl_ask"
ASK_BLOCK = "what"
CONTEXT_CHARS = 1500
"""How much of the picked message travels in the modal's private_metadata (max 3000)."""
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
SLACK_FAILURES = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError)


class SlashCommand(BaseModel):
    user_id: str
    channel_id: str
    text: str = ""


class PickedMessage(BaseModel):
    """What the shortcut's modal carries (private_metadata) about the picked message."""

    channel: str
    thread_ts: str
    author: str | None = None
    text: str = ""


class Commands:
    def __init__(
        self,
        *,
        queue: JobQueue,
        store: ThreadStore,
        agents: Mapping[str, Agent],
        directory: Directory | None = None,
    ) -> None:
        self._queue = queue
        self._store = store
        self._agents = agents
        self._directory = directory

    async def on_command(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        """`/hitl [help | inbox | a request]`; the answer is the ack's text."""
        command = SlashCommand.model_validate(body)
        await ack(text=await self._answer(command, client))

    async def _answer(self, command: SlashCommand, client: AsyncWebClient) -> str:
        text = " ".join(command.text.split())
        word = text.split(" ", 1)[0].lower()
        if word in ("", "help"):
            return say.HELP
        if word == "inbox":
            waiting = await inbox.waiting_for(
                command.user_id, store=self._store, agents=self._agents, directory=self._directory
            )
            return inbox.render(waiting, self._agents)
        if " " not in text and not self._routable(text):
            return say.unknown(word)
        return await self._start(client, command.channel_id, command.user_id, text)

    def _routable(self, text: str) -> bool:
        return any(
            a.keywords is not None and a.keywords.search(text) for a in self._agents.values()
        )

    async def _start(self, client: AsyncWebClient, channel: str, user: str, text: str) -> str:
        try:
            posted = await client.chat_postMessage(
                channel=channel, text=cut(say.asked(user, text), 3000)
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "error")
            return (
                say.not_in_channel(channel, text)
                if error in CHANNEL_ERRORS
                else say.could_not_post(error, text)
            )
        except SLACK_FAILURES as exc:
            log.warning("/hitl could not post: %r", exc)
            return say.could_not_post("unreachable", text)
        origin = SlackOrigin(channel=channel, thread_ts=str(posted["ts"]))
        await self._queue.enqueue(
            Launch(user=user, text=text, origin=origin, message_ts=origin.thread_ts)
        )
        return say.started(channel)

    # The message shortcut

    async def on_shortcut(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or "")
        ts = str(message.get("thread_ts") or message.get("ts") or body.get("message_ts") or "")
        picked = PickedMessage(
            channel=channel,
            thread_ts=ts,
            author=message.get("user"),
            text=str(message.get("text") or "")[:CONTEXT_CHARS],
        )
        try:
            await client.views_open(trigger_id=str(body.get("trigger_id")), view=ask_modal(picked))
        except SLACK_FAILURES as exc:
            log.warning("the shortcut's form did not open: %r", exc)

    async def on_ask_submitted(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = body.get("view") or {}
        user = str((body.get("user") or {}).get("id") or "")
        values = ((view.get("state") or {}).get("values") or {}).get(ASK_BLOCK) or {}
        what = " ".join(str((values.get(ASK_BLOCK) or {}).get("value") or "").split())
        if not what:
            await ack(response_action="errors", errors={ASK_BLOCK: say.ASK_REQUIRED})
            return
        try:
            picked = PickedMessage.model_validate_json(str(view.get("private_metadata") or ""))
        except ValidationError:
            await ack(response_action="errors", errors={ASK_BLOCK: say.ASK_REQUIRED})
            return
        await ack()
        await self._ask(client, picked, user, what)

    async def _ask(
        self, client: AsyncWebClient, picked: PickedMessage, user: str, what: str
    ) -> None:
        try:
            posted = await client.chat_postMessage(
                channel=picked.channel,
                thread_ts=picked.thread_ts,
                text=cut(say.asked_about(user, what), 3000),
            )
        except SLACK_FAILURES as exc:
            log.warning("the shortcut's request could not be posted: %r", exc)
            return
        origin = SlackOrigin(channel=picked.channel, thread_ts=picked.thread_ts)
        text = f"{what}\n\n{say.context(picked.author, picked.text)}"
        ts = str(posted["ts"])
        thread_id = await self._store.find(origin)
        job: Launch | Reply = (
            Reply(thread_id=thread_id, user=user, text=text, message_ts=ts, mentioned=True)
            if thread_id
            else Launch(user=user, text=text, origin=origin, message_ts=ts)
        )
        await self._queue.enqueue(job)


def ask_modal(picked: PickedMessage) -> dict[str, Any]:
    """The shortcut's form: one required text field."""
    return {
        "type": "modal",
        "callback_id": ASK_VIEW,
        "title": {"type": "plain_text", "text": say.ASK_TITLE},
        "submit": {"type": "plain_text", "text": say.ASK_SUBMIT},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": picked.model_dump_json(),
        "blocks": [
            {
                "type": "input",
                "block_id": ASK_BLOCK,
                "label": {"type": "plain_text", "text": say.ASK_LABEL},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ASK_BLOCK,
                    "multiline": True,
                    "max_length": 1000,
                    "placeholder": {"type": "plain_text", "text": say.ASK_HINT},
                },
            }
        ],
    }
