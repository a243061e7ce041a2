"""`hitl prompt show <agent> [--thread ID]`: exactly what the agent's next step would send to the
model (factor 2): the system prompt, the rendered context and the tool schemas."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from agents.runtime.agent import Agent
from agents.runtime.connect import close_redis, redis_from_url
from agents.runtime.context import build_request
from agents.runtime.events import UserMessage
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from agents.runtime.types import ModelRequest
from bot.services import ConfigError, agents_for
from bot.settings import Settings

EXAMPLE_USER = "U0EXAMPLE"
EXAMPLE_TEXT = "(the message that mentioned the bot)"


def add_parser(sub: Any, agent_names: list[str]) -> None:
    prompt = sub.add_parser("prompt", help="show what an agent sends to the model")
    verbs = prompt.add_subparsers(dest="verb", required=True)
    show = verbs.add_parser(
        "show", help="system prompt, rendered context and tool schemas of the next step"
    )
    show.add_argument("agent", choices=agent_names)
    source = show.add_mutually_exclusive_group()
    source.add_argument("--thread", metavar="ID", help="a thread in Redis (default: a new one)")
    source.add_argument(
        "--text", default=EXAMPLE_TEXT, help="the mention that starts the example thread"
    )


def render(request: ModelRequest, *, title: str) -> str:
    """The request as plain text: a heading per part, tool schemas as JSON."""
    return "\n".join(
        [
            f"# {title}",
            "",
            "===== system =====",
            request.system.rstrip("\n"),
            "",
            "===== context =====",
            request.context,
            "",
            "===== tools =====",
            json.dumps(request.tools, indent=2),
        ]
    )


def example_thread(agent: Agent, text: str) -> Thread:
    return Thread(
        id="t-example",
        agent=agent.name,
        requester=EXAMPLE_USER,
        events=[UserMessage(user=EXAMPLE_USER, text=text)],
    )


async def run(args: argparse.Namespace, settings: Settings) -> None:
    agent = next(a for a in agents_for(settings) if a.name == args.agent)
    if args.thread is None:
        thread = example_thread(agent, args.text)
        title = f"agent {agent.name}, a new thread started by: {args.text}"
    else:
        thread = await _load(args.thread, settings)
        title = f"agent {agent.name}, thread {thread.id} ({thread.status.value})"
        if thread.agent != agent.name:
            print(f"hitl: note: thread {thread.id} belongs to {thread.agent}", file=sys.stderr)
    print(render(build_request(agent, thread), title=title))


async def _load(thread_id: str, settings: Settings) -> Thread:
    where = _without_password(settings.redis_url)
    redis = redis_from_url(settings.redis_url)
    try:
        thread = await ThreadStore(redis).load(thread_id)
    except RedisError as exc:
        raise ConfigError(f"cannot read thread {thread_id!r} from {where}: {exc}") from exc
    finally:
        await close_redis(redis)
    if thread is None:
        raise ConfigError(f"no thread {thread_id!r} in {where}")
    return thread


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=host).geturl()
