"""The audit log end to end: a signed Slack approval cycle is recorded in the hash-chained log,
`hitl audit export` feeds it to a SIEM as NDJSON, and `hitl audit verify` notices tampering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.audit import AuditLog, is_audited
from agents.runtime.jobs import Advance
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, DEPLOYS, MALLORY, BotProcess
from tests.support import approval_message, cli_env, deployments, hitl, mention


async def _run(redis_url: str, *args: str) -> tuple[int, str, str]:
    proc = await hitl(*args, environ=cli_env(redis_url))
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_an_approval_cycle_is_exported_and_tampering_is_detected(
    slack: SlackEmulator, bot: BotProcess, redis: Redis, redis_server: str
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]

    code, out, err = await _run(
        redis_server, "audit", "export", "--since", started.isoformat(), "--format", "ndjson"
    )
    assert code == 0, err
    entries = [json.loads(line) for line in out.splitlines()]
    kinds = [(e["type"], e["event"].get("intent")) for e in entries]
    assert kinds[:3] == [
        ("tool_call", "request_approval"),
        ("approval_decision", None),
        ("tool_result", "deploy"),
    ]
    request, decision, result = entries[:3]
    assert request["event"]["arguments"]["action"]["version"] == "1.4.2"
    assert decision["actor"] == BOB and decision["event"]["approved"] is True
    assert 0 <= decision["seconds_to_decision"] < 60
    assert result["event"]["output"]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    later = datetime.now(UTC) + timedelta(minutes=1)
    code, out, _ = await _run(redis_server, "audit", "export", "--since", later.isoformat())
    assert (code, out) == (0, "")

    code, out, err = await _run(redis_server, "audit", "verify")
    assert code == 0, err
    assert f"audit log intact: {len(entries)} entries" in out

    # Someone with Redis access credits the approval to another person.
    stored = list(await redis.xrange(keys.audit()))
    await redis.delete(keys.audit())
    for entry_id, fields in stored:
        if int(fields[b"seq"]) == decision["seq"]:
            fields[b"entry"] = fields[b"entry"].replace(BOB.encode(), MALLORY.encode())
        await redis.xadd(keys.audit(), fields, id=entry_id)  # type: ignore[arg-type]

    code, out, err = await _run(redis_server, "audit", "verify")
    assert code == 1
    assert f"entry {decision['seq']} ({decision['id']}" in err and "was changed" in err


async def test_events_saved_while_the_audit_append_failed_are_appended_by_the_repair_job(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    """A worker that dies (or loses Redis) between saving a thread and appending its events to
    the audit log leaves the thread with work to do, so the reconciler sends it an `Advance`
    job; that job appends what the log misses, even when the thread's last save has happened."""
    await redis.set(keys.audit(), "not a stream")  # every append fails with WRONGTYPE
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]
    await redis.delete(keys.audit())

    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    await bot.services.queue.enqueue(Advance(thread_id=thread_id))
    await bot.settle()

    entries = [e async for e in AuditLog(redis).entries()]
    thread = await ThreadStore(redis).load(thread_id)
    assert thread is not None
    audited = [i for i, event in enumerate(thread.events) if is_audited(event)]
    assert [e["index"] for e in entries if e["thread_id"] == thread_id] == audited
    assert (await AuditLog(redis).verify()).problem is None
