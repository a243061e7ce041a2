"""`hitl threads list|show`: inspect threads in Redis from a terminal."""

from __future__ import annotations

import argparse
import json
from typing import Any

from agents.connect import redis_from_url
from agents.events import (
    ApprovalDecision,
    Error,
    EscalationTaken,
    Event,
    HumanResponse,
    ReminderSent,
    RequestExpired,
    Terms,
    ToolCall,
    ToolResult,
    UserMessage,
    call_hash,
)
from agents.store import ThreadStore
from agents.thread import Thread
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
    label, detail = _describe(event)
    return f"{event.at.strftime('%Y-%m-%d %H:%M:%S')}  {label:<20} {detail}"


def _describe(event: Event) -> tuple[str, str]:  # noqa: C901 - one arm per event type
    match event:
        case UserMessage(user=user, text=text):
            return "message", f"{user}: {text}"
        case ToolCall(intent="request_approval", arguments=args, source=source, terms=terms):
            return "approval requested", (
                f"{args['summary']} · by {source} · hash {call_hash(args['action'])[:12]}"
                f"{_terms(terms)}"
            )
        case ToolCall(intent=intent, arguments=args, source=source, terms=terms):
            return intent.replace("_", " "), f"{json.dumps(args)} · by {source}{_terms(terms)}"
        case ToolResult(intent=intent, output=output):
            return f"{intent} result", json.dumps(output)
        case ApprovalDecision(
            approved=approved, user=user, action_hash=h, reason=r, edited_action=e
        ):
            detail = f"by {user} · hash {h[:12]}"
            detail += f" · reason: {r}" if r else ""
            detail += f" · edited to {json.dumps(e)}" if e else ""
            return ("approved" if approved else "rejected"), detail
        case HumanResponse(user=user, text=text):
            return "answered", f"by {user}: {text}"
        case EscalationTaken(user=user):
            return "escalation taken", f"by {user}"
        case RequestExpired(call_id=call_id):
            return "expired", f"request {call_id}; nothing ran"
        case ReminderSent(call_id=call_id):
            return "reminder sent", f"request {call_id}"
        case Error(message=message):
            return "error", message


def _terms(terms: Terms | None) -> str:
    if terms is None:
        return ""
    who = ", ".join(terms.deciders) or "anyone but the requester"
    deadline = terms.deadline.strftime("%Y-%m-%d %H:%M:%S")
    return f" · needs {terms.quorum} from {who} · expires {deadline}"


async def run(args: argparse.Namespace, settings: Settings) -> None:
    redis = redis_from_url(settings.redis_url)
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
