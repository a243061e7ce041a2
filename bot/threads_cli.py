"""`hitl threads list|show`: inspect threads in Redis from a terminal."""

from __future__ import annotations

import argparse
import getpass
import json
import time
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime.connect import close_redis, redis_from_url
from agents.runtime.events import (
    ApprovalDecision,
    BreakGlassReviewed,
    Error,
    EscalationTaken,
    Event,
    HumanResponse,
    Paused,
    ReminderSent,
    RequestExpired,
    Resumed,
    Stopped,
    Terms,
    ToolCall,
    ToolResult,
    UserMessage,
    call_hash,
)
from agents.runtime.jobs import JobQueue
from agents.runtime.outbox import DeliveryLedger
from agents.runtime.receipts import approved_requests, describe
from agents.runtime.reconciler import stuck_threads
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from agents.runtime.types import Tell
from bot.cli_support import REFUSED, CommandFailed, reachable, require_slack
from bot.operations import (
    STATUS_FILTERS,
    Accepted,
    Conflict,
    ControlRequest,
    LaunchRequest,
    NotFound,
    RespondRequest,
    SlackError,
    ThreadOps,
    ThreadSummary,
    list_threads,
)
from bot.respond_wait import outcome
from bot.services import agents_for, policy_for
from bot.settings import Settings
from bot.slack.messages import refusal


def add_parser(sub: Any) -> None:
    threads = sub.add_parser("threads", help="launch, inspect, pause, resume and stop threads")
    verbs = threads.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="one line per thread: id, agent, status, requester")
    listing.add_argument(
        "--status",
        choices=STATUS_FILTERS,
        help="only threads in this status (waiting: waiting for any person)",
    )
    listing.add_argument(
        "--stuck",
        action="store_true",
        help="only threads with work to do and no worker on them (what the reconciler repairs)",
    )
    show = verbs.add_parser("show", help="a thread's audit timeline")
    show.add_argument("thread_id")
    launch = verbs.add_parser("launch", help="start an agent that reports in a Slack channel")
    launch.add_argument("--channel", required=True, help="Slack channel ID, e.g. C0123ABC")
    launch.add_argument("--as", dest="user", default=f"cli:{getpass.getuser()}")
    launch.add_argument("text", help='the request, e.g. "deploy api 1.4.2 to production"')
    for verb in ("pause", "resume", "stop"):
        control = verbs.add_parser(verb, help=f"{verb} a thread (a worker applies it)")
        control.add_argument("thread_id")
        control.add_argument("--by", default=f"cli:{getpass.getuser()}")
        control.add_argument("--reason")
    respond = verbs.add_parser("respond", help="approve, reject or answer the open request")
    respond.add_argument("thread_id")
    respond.add_argument("--as", dest="user", required=True, help="Slack user ID deciding")
    answer = respond.add_mutually_exclusive_group(required=True)
    answer.add_argument("--approve", action="store_true")
    answer.add_argument("--reject", metavar="REASON")
    answer.add_argument("--text", help="the answer to a question")
    respond.add_argument(
        "--wait",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a worker to apply or refuse it (default 10)",
    )
    respond.add_argument(
        "--no-wait", dest="wait", action="store_const", const=0.0, help="only queue it"
    )


CLI = "the hitl CLI"
"""How a launch or an answer given with `hitl threads` is recorded: the launch's requester is
told the outcome by DM, and what the CLI launched the CLI cannot approve."""

LIST_HEADER = (
    f"{'THREAD':<14}  {'AGENT':<8} {'STATUS':<18} {'REQUESTER':<12} {'LAST ACTIVITY':<19}  WHERE"
)


def summary_line(thread: Thread | ThreadSummary) -> str:
    """One thread in stable, space-separated columns (see LIST_HEADER)."""
    summary = thread if isinstance(thread, ThreadSummary) else ThreadSummary.of(thread)
    where = f"{summary.channel}/{summary.thread_ts}" if summary.channel else "-"
    last = summary.last_activity.strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{summary.id:<14}  {summary.agent:<8} {summary.status:<18} {summary.requester:<12} "
        f"{last:<19}  {where}"
    )


def event_line(event: Event) -> str:
    label, detail = _describe(event)
    return f"{event.at.strftime('%Y-%m-%d %H:%M:%S')}  {label:<20} {detail}"


def _describe(event: Event) -> tuple[str, str]:  # noqa: C901 - one arm per event type
    match event:
        case UserMessage(user=user, text=text, via=via):
            return "message", f"{user} via {via}: {text}" if via else f"{user}: {text}"
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
            approved=approved, user=user, action_hash=h, reason=r, edited_action=e, via=via
        ):
            detail = (f"via {via} for {user}" if via else f"by {user}") + f" · hash {h[:12]}"
            detail += f" · reason: {r}" if r else ""
            detail += f" · edited to {json.dumps(e)}" if e else ""
            if event.break_glass:
                return "BREAK-GLASS approved", detail
            return ("approved" if approved else "rejected"), detail
        case BreakGlassReviewed(call_id=call_id, user=user):
            return "break-glass reviewed", f"request {call_id} by {user}"
        case HumanResponse(user=user, text=text, via=via):
            return "answered", (f"via {via} for {user}" if via else f"by {user}") + f": {text}"
        case EscalationTaken(user=user):
            return "escalation taken", f"by {user}"
        case RequestExpired(call_id=call_id):
            return "expired", f"request {call_id}; nothing ran"
        case ReminderSent(call_id=call_id, about=about):
            review = " (break-glass review)" if about == "review" else ""
            return "reminder sent", f"request {call_id}{review}"
        case Error(message=message, scope=scope):
            return "error", message + (" (Slack delivery)" if scope == "delivery" else "")
        case Paused(by=by, reason=reason) | Resumed(by=by, reason=reason):
            return event.type, f"by {by}" + (f" · reason: {reason}" if reason else "")
        case Stopped(by=by, reason=reason):
            return "stopped", f"by {by}" + (f" · reason: {reason}" if reason else "")


def _terms(terms: Terms | None) -> str:
    if terms is None:
        return ""
    who = ", ".join(terms.deciders) or "anyone but the requester"
    deadline = terms.deadline.strftime("%Y-%m-%d %H:%M:%S")
    return f" · needs {terms.quorum} from {who} · expires {deadline}"


async def run(args: argparse.Namespace, settings: Settings) -> None:
    redis = redis_from_url(settings.redis_url)
    try:
        await reachable(redis, settings.redis_url)
        store = ThreadStore(redis)
        if args.verb == "list" and args.stuck:
            await _stuck(redis, store, grace=settings.hitl_reconcile_seconds)
            return
        if args.verb in ("list", "show"):
            await _inspect(args, store, settings)
            return
        client = AsyncWebClient(
            token=require_slack(settings) if args.verb == "launch" else settings.slack_bot_token,
            base_url=settings.slack_api_url,
        )
        ops = ThreadOps(store=store, queue=JobQueue(redis, consumer="cli"), client=client)
        try:
            accepted = await _operate(args, ops)
        except (NotFound, Conflict, SlackError) as exc:
            raise CommandFailed(str(exc)) from exc
        except ValidationError as exc:
            raise CommandFailed(_first_problem(exc)) from exc
        if args.verb == "respond" and accepted.job and args.wait > 0:
            await _report(args, store, DeliveryLedger(redis), accepted.job)
            return
        print(f"{args.verb} queued for thread {accepted.thread_id}; a worker applies it.")
    finally:
        await close_redis(redis)


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


async def _report(
    args: argparse.Namespace, store: ThreadStore, ledger: DeliveryLedger, job: str
) -> None:
    """Print what the worker did with the answer; a refusal exits 1."""
    result = await outcome(store, ledger, args.thread_id, job, within=args.wait)
    if result is None:
        print(
            f"respond queued for thread {args.thread_id}; no worker applied it within "
            f"{args.wait:g}s (is a worker running?). `hitl threads show {args.thread_id}` tells."
        )
    elif isinstance(result, Tell):
        verb = "approve" if args.approve else ("reject" if args.reject else "answer")
        why = refusal(result.reason, None, result.detail)
        raise CommandFailed(f"{args.user} may not {verb}: {why}", code=REFUSED)
    else:
        print(event_line(result))


async def _stuck(redis: Redis, store: ThreadStore, *, grace: float) -> None:
    for state in await stuck_threads(redis, store, grace=grace, now=time.time()):
        idle = time.time() - state.touched
        print(
            f"{state.thread_id}  {state.status:<17} {state.undelivered} undelivered  "
            f"idle {idle:.0f}s"
        )


async def _inspect(
    args: argparse.Namespace, store: ThreadStore, settings: Settings | None = None
) -> None:
    """`list` or `show`; `show` prints receipts when given the settings (their secret)."""
    if args.verb == "list":
        print(LIST_HEADER)
        for summary in await list_threads(store, status=args.status):
            print(summary_line(summary))
        return
    thread = await store.load(args.thread_id)
    if thread is None:
        raise CommandFailed(f"no thread {args.thread_id!r}")
    print(summary_line(thread))
    for decision in thread.unreviewed():
        print(
            f"  UNREVIEWED BREAK-GLASS: request {decision.call_id} approved by its requester "
            f"{decision.user} ({decision.reason}); nobody has acknowledged it yet"
        )
    for event in thread.events:
        print("  " + event_line(event))
    if settings is not None:
        _print_receipts(thread, settings)


def _print_receipts(thread: Thread, settings: Settings) -> None:
    """The receipt each approved request's call was sent with (the same, made again)."""
    approved = approved_requests(thread)
    if not approved:
        return
    signer = settings.receipt_signer()
    if signer is None:
        print("  receipts: none (HITL_RECEIPT_SECRET is not set)")
        return
    policy = policy_for(settings, agents_for(settings))
    for call_id in approved:
        receipt = signer.receipt(thread, call_id, policy=policy)
        if receipt is not None:
            print(f"  receipt of {call_id}: {describe(receipt)}\n    {receipt}")


async def _operate(args: argparse.Namespace, ops: ThreadOps) -> Accepted:
    match args.verb:
        case "launch":
            request = LaunchRequest(text=args.text, channel=args.channel, user=args.user)
            return await ops.launch(request, via=CLI)
        case "pause" | "resume" | "stop":
            control = ControlRequest(by=args.by, reason=args.reason)
            return await ops.control(args.thread_id, args.verb, control)
        case _:
            answer = RespondRequest(
                user=args.user,
                approved=True if args.approve else (False if args.reject else None),
                reason=args.reject,
                text=args.text,
            )
            return await ops.respond(args.thread_id, answer, via=CLI)
