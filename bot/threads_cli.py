"""`hitl threads list|show`: inspect threads in Redis from a terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from redis.asyncio import Redis

from agents.events import Event, Thread
from agents.store import ThreadStore
from bot.services import ConfigError
from bot.settings import Settings


def add_parser(sub: Any) -> None:
    threads = sub.add_parser("threads", help="list and inspect agent threads")
    verbs = threads.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="one line per thread: id, agent, status, requester")
    show = verbs.add_parser("show", help="a thread's timeline")
    show.add_argument("thread_id")


def summary_line(thread: Thread) -> str:
    where = f"{thread.origin.channel}/{thread.origin.thread_ts}" if thread.origin else "-"
    created = thread.created_at.strftime("%Y-%m-%d %H:%M:%S")
    status = thread.status.value
    return f"{thread.id}  {thread.agent:<8} {status:<17} {thread.requester:<12} {created}  {where}"


def event_line(event: Event) -> str:
    body = event.model_dump(mode="json", exclude={"at", "type"})
    return f"{event.at.strftime('%Y-%m-%d %H:%M:%S')}  {event.type:<17} {json.dumps(body)}"


async def run(args: argparse.Namespace, settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        store = ThreadStore(redis)
        if args.verb == "list":
            for thread_id in await store.thread_ids():
                thread = await store.load(thread_id)
                if thread is not None:
                    print(summary_line(thread))
            return
        thread = await store.load(args.thread_id)
        if thread is None:
            raise ConfigError(f"no thread {args.thread_id!r} in {settings.redis_url}")
        print(summary_line(thread))
        for event in thread.events:
            print("  " + event_line(event))
    finally:
        await redis.aclose()
