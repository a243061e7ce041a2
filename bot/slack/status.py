"""Live status: what the bot is doing in a thread, shown by `assistant.threads.setStatus`.

While a worker takes steps in a thread, Slack shows "hitl is deploying api 1.4.2…" under it;
the status is cleared (`status=""`) once the thread waits for a person or is done. It is
cosmetic and best-effort: a failure never stops a run. Where Slack refuses the method for good
(not an assistant thread, a missing scope, a channel it does not allow), the refusal is kept in
the thread's delivery ledger and the ⏳ reaction is used for that thread instead, so Slack is
not asked again at each step. The text is rendered by code from the call's validated arguments:
no tool name or model text reaches a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime.agent import Agent
from agents.runtime.events import APPROVAL, ApprovalDecision, ToolCall
from agents.runtime.outbox import DeliveryLedger
from agents.runtime.thread import Thread
from tools.types import Tool

log = logging.getLogger(__name__)

STATUS_FLAG = "status"
"""Ledger flag: the status last shown ("" cleared), or REFUSED once Slack refused the method."""
REFUSED = "refused"
THINKING = "is thinking…"
WORKING = "is working on it…"
MAX_STATUS = 100
# Answers a retry may change; anything else Slack says is a refusal for this thread.
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)

_PHRASES: dict[str, Callable[[Tool], str]] = {
    "deploy": lambda t: "is deploying {service} {version} to {environment}…".format(**_args(t)),
    "rollback": lambda t: "is rolling back {service} in {environment}…".format(**_args(t)),
    "list_versions": lambda t: "is checking versions of {service}…".format(**_args(t)),
    "list_recent_deploys": lambda t: "is looking at recent deploys…",
    "grant_access": lambda t: "is granting {level} access to {resource}…".format(**_args(t)),
    "revoke_access": lambda t: "is revoking access to {resource}…".format(**_args(t)),
    "list_open_incidents": lambda t: "is checking open incidents…",
}


def _args(tool: Tool) -> dict[str, object]:
    return tool.model_dump(mode="json")


def status_text(thread: Thread, agent: Agent | None) -> str:
    """What the next step of a running thread does, as Slack's status line shows it after the
    app's name: the business call about to run, else the model deciding."""
    last = thread.last_step
    call: dict[str, object] | None = None
    if isinstance(last, ToolCall) and agent is not None and agent.is_business(last.intent):
        call = last.arguments | {"intent": last.intent}
    elif isinstance(last, ApprovalDecision) and last.approved:
        request = thread.call(last.call_id)
        if request is not None and request.intent == APPROVAL and thread.outcome(request):
            call = thread.approved_action(request)
    if call is None or agent is None:
        return THINKING
    return describe(call, agent)


def describe(call: dict[str, object], agent: Agent) -> str:
    """A business call as a status phrase, from its validated arguments."""
    try:
        tool = agent.parse_action(dict(call))
    except ValueError:
        return WORKING
    phrase = _PHRASES.get(tool.intent)
    text = phrase(tool) if phrase else WORKING
    return text if len(text) <= MAX_STATUS else text[: MAX_STATUS - 1] + "…"


class LiveStatus:
    """Sets and clears a thread's status line; says when the reaction must be used instead."""

    def __init__(
        self, client: AsyncWebClient, ledger: DeliveryLedger, agents: Mapping[str, Agent]
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._agents = agents

    async def show(self, thread: Thread, busy: bool) -> bool:
        """Show what the thread does (or clear it); False when Slack refuses status lines in
        this thread, so the caller falls back to the reaction. Never raises for Slack."""
        origin = thread.origin
        if origin is None:
            return True
        shown = await self._ledger.flag(thread.id, STATUS_FLAG)
        if shown == REFUSED:
            return False
        wanted = status_text(thread, self._agents.get(thread.agent)) if busy else ""
        if (shown or "") == wanted:
            return True
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=origin.channel, thread_ts=origin.thread_ts, status=wanted
            )
        except SlackApiError as exc:
            error = _error(exc)
            if error is None or error in TRANSIENT:
                log.info("status line: %s", error or exc.response.status_code)
                return True  # tried again at the next delivery
            log.info("status line refused (%s): using the reaction in %s", error, thread.id)
            await self._ledger.set_flag(thread.id, STATUS_FLAG, REFUSED)
            return False
        except (TimeoutError, aiohttp.ClientError, SlackClientError, ValueError) as exc:
            log.info("status line: %r", exc)
            return True
        await self._ledger.set_flag(thread.id, STATUS_FLAG, wanted)
        return True


def _error(exc: SlackApiError) -> str | None:
    data = exc.response.data
    return str(data.get("error")) if isinstance(data, dict) and data.get("error") else None
