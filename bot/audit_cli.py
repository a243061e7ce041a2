"""`hitl audit verify|export`: check the hash-chained audit log, and feed it to a SIEM."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from agents.runtime.audit import AuditLog
from agents.runtime.connect import close_redis, redis_from_url
from bot.cli_support import reachable
from bot.settings import Settings


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="verify or export the tamper-evident audit log")
    verbs = audit.add_subparsers(dest="verb", required=True)
    verbs.add_parser("verify", help="check the hash chain; exit 1 naming the first bad entry")
    export = verbs.add_parser("export", help="print audit entries, oldest first")
    export.add_argument(
        "--since", type=_when, help="entries recorded at or after this ISO time (default: all)"
    )
    export.add_argument("--format", choices=["ndjson"], default="ndjson")


def _when(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from exc
    # A time without a zone is UTC, like every time the log records.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def run(args: argparse.Namespace, settings: Settings) -> None:
    redis = redis_from_url(settings.redis_url)
    try:
        await reachable(redis, settings.redis_url)
        audit = AuditLog(redis, retention_days=settings.hitl_audit_retention_days)
        if args.verb == "export":
            async for entry in audit.entries(since=args.since):
                print(json.dumps(entry, sort_keys=True, ensure_ascii=False))
            return
        verdict = await audit.verify()
    finally:
        await close_redis(redis)
    if verdict.problem:
        print(f"audit log broken: {verdict.problem}", file=sys.stderr)
        sys.exit(1)
    if verdict.entries == 0 and verdict.first_seq == 1:
        print("audit log intact: no entries yet")
        return
    last = verdict.first_seq + verdict.entries - 1
    print(f"audit log intact: {verdict.entries} entries, {verdict.first_seq}..{last}")
