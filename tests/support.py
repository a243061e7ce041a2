"""Helpers shared by test modules: driving the Slack emulator as a person would, reading what it
shows, reading what Redis holds, and starting `hitl` subprocesses.

Test modules import shared helpers from here only, never from another `test_*` module
(tests/test_layout.py checks that). Fixtures stay in conftest.py files; fake servers at process
boundaries (tests/agents/models/fake_providers.py, tests/tools/fake_servers.py) live beside the
tests of what they fake."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.reconciler import needs_work
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status, Thread
from bot.adapters import simulated_store
from bot.emulator.server import Message, SlackEmulator
from tests.conftest import ALICE, BOT_TOKEN, CAROL, DEPLOYS, SIGNING_SECRET
from tools.deploy import DEPLOY_TOOLS, SimulatedDeployer

# The Web API methods the bot calls, and the bot scope each one needs (None: no scope).
SCOPE_FOR_METHOD = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "views.open": None,  # interactivity, no scope
    "views.publish": None,  # the Home tab, no scope
    "conversations.open": "im:write",  # a DM to a decider or a requester
    # Looking for a post that may have gone through before re-posting it (the outbox).
    "conversations.replies": "channels:history",
    "conversations.history": "channels:history",
    # The status line under a thread while steps run (Slack now takes chat:write for it).
    "assistant.threads.setStatus": "chat:write",
}
# The app features the bot uses, and the bot scope each one needs.
SCOPE_FOR_FEATURE = {"slash_commands": "commands", "shortcuts": "commands"}
# The events the bot subscribes to, and the bot scope each one needs.
SCOPE_FOR_EVENT = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "app_home_opened": None,  # no scope
}

# A grantee and the resource owners of the access agent's scenarios.
DANA = "U0DANA"
OWNERS = {"billing-db": CAROL}


# --- people in Slack ---------------------------------------------------------------------------


async def mention(slack: SlackEmulator, text: str, *, user: str = ALICE) -> str:
    """Mention the bot in #deploys as `user`; returns the ts of the new thread root."""
    delivery = await slack.post_message(
        user=user, channel=DEPLOYS, text=f"<@{slack.identity.bot_user_id}> {text}"
    )
    assert [r.status_code for r in delivery.responses] == [200] * len(delivery.responses)
    return delivery.message.ts


async def reject(slack: SlackEmulator, *, user: str, message: Message, reason: str) -> None:
    """Click Reject and submit the reason modal it opens."""
    await slack.click(user=user, message=message, action_id="hitl_reject")
    await slack.wait_for(lambda: bool(slack.open_views(user)))
    (modal,) = slack.open_views(user)
    response = await slack.submit_view(user=user, view=modal, values={"reason": {"reason": reason}})
    assert response.status_code == 200


def event_body(slack: SlackEmulator, event: dict[str, object], event_id: str) -> str:
    """The JSON body of an Events API delivery of `event`, as Slack sends it to the bot."""
    return json.dumps(
        {
            "token": "t",
            "team_id": slack.identity.team_id,
            "api_app_id": "A0HITLAPP",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000000,
            "event": event,
            "authorizations": [
                {
                    "team_id": slack.identity.team_id,
                    "user_id": slack.identity.bot_user_id,
                    "is_bot": True,
                }
            ],
        }
    )


# --- what Slack shows --------------------------------------------------------------------------


def has_buttons(message: Message) -> bool:
    """Whether the message still offers buttons (an undecided request)."""
    return any(block.get("type") == "actions" for block in message.blocks)


def shown_text(message: Message) -> str:
    """Everything a person reads in a message: fallback text plus all block text."""
    parts = [message.text or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return "\n".join(parts)


def bot_replies(slack: SlackEmulator, channel: str, thread_ts: str) -> list[Message]:
    """The bot's messages in a thread, oldest first."""
    return [m for m in slack.thread(channel, thread_ts) if m.bot_id is not None]


def asked(slack: SlackEmulator, channel: str) -> list[Message]:
    """The top-level messages of `channel` (what asked: a mention, or the bot's post of a
    request made through the API or the CLI), oldest first."""
    return [m for m in slack.messages if m.thread_ts is None and m.channel == channel]


def approval_message(slack: SlackEmulator, channel: str, thread_ts: str) -> Message:
    """The one bot message in the thread that carries buttons."""
    found = [m for m in bot_replies(slack, channel, thread_ts) if has_buttons(m)]
    assert len(found) == 1, f"expected one approval message, got {len(found)}"
    return found[0]


# --- what Redis holds --------------------------------------------------------------------------


async def deployments(redis: Redis) -> list[tuple[str, str, str]]:
    """Every simulated deploy that ran, as (service, version, environment)."""
    return [
        (d["service"], d["version"], d["environment"])
        for d in await SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)).deployments()
    ]


async def load_thread(redis: Redis, root: str) -> Thread:
    """The saved thread that a mention in #deploys at `root` started."""
    thread = await ThreadStore(redis).load(
        thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    )
    assert thread is not None
    return thread


async def thread_status(redis: Redis, root: str) -> Status:
    """The derived status of the thread a mention in #deploys at `root` started."""
    return (await load_thread(redis, root)).status


async def redis_snapshot(redis: Redis) -> dict[bytes, bytes | None]:
    """Every key and its serialized value, to prove a request changed nothing."""
    return {key: await redis.dump(key) for key in sorted(await redis.keys("*"))}


async def unaccounted_threads(redis: Redis) -> list[str]:
    """Threads that break the invariant once workers are idle: each must be waiting on people,
    done, paused or stopped with everything shown to people, or have a job planned for it."""
    planned = {
        member.decode() if isinstance(member, bytes) else member
        for member in await redis.zrange(keys.deadlines(), 0, -1)
    }
    store = ThreadStore(redis)
    return [
        f"{state.thread_id} {state.status} undelivered={state.undelivered}"
        async for state in store.states()
        if needs_work(state) and not any(state.thread_id in job for job in planned)
    ]


# --- `hitl` subprocesses -----------------------------------------------------------------------


NO_SANDBOX_STATE = "/nonexistent/slack-hitl/sandbox.json"
"""Where `hitl` looks for a running sandbox in tests: nowhere, so a developer's own sandbox on
the same machine never changes what a test's `hitl` command talks to."""


def cli_env(redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `hitl` command: ours, minus any Slack, HITL or LLM settings, and
    blind to any running sandbox (pass HITL_SANDBOX_STATE to find one)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITL_", "LLM_"))}
    return clean | {"REDIS_URL": redis_url, "HITL_SANDBOX_STATE": NO_SANDBOX_STATE} | extra


def worker_env(slack: SlackEmulator, redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `hitl worker` process talking to the emulator and test Redis."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITL_"))}
    return inherited | {
        "REDIS_URL": redis_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        **settings,
    }


async def hitl(*args: str, environ: dict[str, str]) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` with pipes for stdout and stderr."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
