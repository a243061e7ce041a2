"""The hash-chained audit log on a real Redis: appended as threads are saved, exactly once per
event, one chain under concurrent writers, and verification that names what was tampered with."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.audit import AuditLog, entry_hash
from agents.runtime.connect import close_redis, redis_from_url
from agents.runtime.events import (
    ApprovalDecision,
    Error,
    Paused,
    ToolCall,
    ToolResult,
    UserMessage,
    call_hash,
)
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread

ACTION = {"intent": "deploy", "service": "api", "version": "1.4.2", "env": "production"}


def new_thread(ts: str = "1.0") -> Thread:
    origin = SlackOrigin(channel="C1", thread_ts=ts)
    return Thread(
        id=thread_id_for(origin),
        agent="deploy",
        requester="U1",
        origin=origin,
        events=[UserMessage(user="U1", text="deploy api 1.4.2 to production")],
    )


def request(thread: Thread) -> Thread:
    ask = ToolCall(
        call_id="c1",
        intent="request_approval",
        arguments={"summary": "deploy api", "action": ACTION},
    )
    return thread.append(ask)


def decide(thread: Thread) -> Thread:
    asked = thread.events[-1]
    decision = ApprovalDecision(
        at=asked.at + timedelta(seconds=42),
        call_id="c1",
        approved=True,
        user="U2",
        action_hash=call_hash(ACTION),
    )
    return thread.append(decision)


async def approved_cycle(store: ThreadStore, ts: str = "1.0") -> Thread:
    """A thread that asks, is approved, runs the deploy and is paused: 4 audited events."""
    thread = new_thread(ts)
    await store.create(thread)
    thread = await store.save(request(thread))
    thread = await store.save(decide(thread))
    result = ToolResult(call_id="c1", intent="deploy", output={"status": "deployed"})
    return await store.save(thread.append(result).append(Paused(by="U3")))


async def stream(redis: Redis) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return list(await redis.xrange(keys.audit()))


async def rewrite(redis: Redis, seq: int, change: Any, *, rehash: bool = False) -> None:
    """Tamper as someone with Redis access would: a stream entry cannot be edited in place, so
    rebuild the stream with the same ids and entry `seq` changed."""
    entries = await stream(redis)
    await redis.delete(keys.audit())
    for entry_id, fields in entries:
        if int(fields[b"seq"]) == seq:
            entry = json.loads(fields[b"entry"])
            change(entry)
            fields[b"entry"] = json.dumps(entry).encode()
            if rehash:
                fields[b"hash"] = entry_hash(entry).encode()
        await redis.xadd(keys.audit(), fields, id=entry_id)  # type: ignore[arg-type]


async def test_saved_requests_decisions_results_and_operator_actions_form_a_chain(
    redis: Redis,
) -> None:
    store = ThreadStore(redis)
    thread = await approved_cycle(store)

    entries = [entry async for entry in store.audit.entries()]
    assert [e["type"] for e in entries] == [
        "tool_call",
        "approval_decision",
        "tool_result",
        "paused",
    ]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert [e["index"] for e in entries] == [1, 2, 3, 4]
    assert {e["thread_id"] for e in entries} == {thread.id}
    assert entries[1]["seconds_to_decision"] == 42.0
    assert entries[1]["actor"] == "U2" and entries[3]["actor"] == "U3"
    assert entries[0]["event"]["arguments"]["action"] == ACTION
    # Each entry carries the previous entry's hash.
    assert entries[0]["prev"] == "0" * 64
    for before, after in itertools.pairwise(entries):
        assert after["prev"] == before["hash"]
    verdict = await store.audit.verify()
    assert verdict.problem is None and verdict.entries == 4
    for key in (keys.audit(), keys.audit_head(), keys.audit_cursor(thread.id)):
        assert await redis.ttl(key) > 400 * 24 * 3600


async def test_a_changed_entry_is_named(redis: Redis) -> None:
    await approved_cycle(ThreadStore(redis))

    await rewrite(redis, 2, lambda entry: entry.update(actor="U9"))

    problem = (await AuditLog(redis).verify()).problem
    assert problem is not None and problem.startswith("entry 2 (") and "was changed" in problem


async def test_a_changed_entry_with_its_hash_recomputed_breaks_the_next_link(redis: Redis) -> None:
    await approved_cycle(ThreadStore(redis))

    await rewrite(redis, 2, lambda entry: entry.update(actor="U9"), rehash=True)

    problem = (await AuditLog(redis).verify()).problem
    assert problem is not None and problem.startswith("entry 3 (")
    assert "does not follow entry 2" in problem


async def test_a_removed_entry_is_named_as_a_gap(redis: Redis) -> None:
    await approved_cycle(ThreadStore(redis))
    second = (await stream(redis))[1][0]

    await redis.xdel(keys.audit(), second)

    problem = (await AuditLog(redis).verify()).problem
    assert problem is not None and problem.startswith("entry 2 is missing")


async def test_removing_the_newest_entries_is_noticed_from_the_head(redis: Redis) -> None:
    await approved_cycle(ThreadStore(redis))
    last = (await stream(redis))[-1][0]

    await redis.xdel(keys.audit(), last)

    problem = (await AuditLog(redis).verify()).problem
    assert problem is not None and problem.startswith("entries after 3 were removed")


async def _cycles(redis_url: str, first: int) -> None:
    client = Redis.from_url(redis_url)
    try:
        store = ThreadStore(client)
        await asyncio.gather(*(approved_cycle(store, ts=f"{i}.0") for i in range(first, first + 8)))
    finally:
        await client.aclose()


async def test_concurrent_appends_from_two_stores_keep_one_chain(
    redis: Redis, redis_server: str
) -> None:
    # Two event loops, as two processes would be: appends of one process take turns, so
    # only separate processes race for the chain head.
    await asyncio.gather(
        _cycles(redis_server, 0), asyncio.to_thread(asyncio.run, _cycles(redis_server, 8))
    )

    verdict = await AuditLog(redis).verify()
    assert verdict.problem is None and verdict.entries == 16 * 4
    entries = [entry async for entry in AuditLog(redis).entries()]
    assert [e["seq"] for e in entries] == list(range(1, 65))
    assert len({(e["thread_id"], e["index"]) for e in entries}) == 64


async def test_a_retried_or_repeated_save_appends_nothing_twice(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = await approved_cycle(store)

    assert await store.audit.record(thread) == 0  # the same events again, as a retry would
    assert await store.create(new_thread()) is False  # a retried launch
    thread = await store.save(thread.append(Error(message="not audited")))
    assert await AuditLog(redis).record(thread) == 0  # another process, same thread
    assert len(await stream(redis)) == 4

    await store.save(thread.append(Paused(by="U4")))
    entries = [entry async for entry in store.audit.entries()]
    assert [(e["seq"], e["index"], e["type"]) for e in entries][-1] == (5, 6, "paused")
    assert (await store.audit.verify()).problem is None


async def test_a_new_thread_by_an_expired_ones_id_is_audited_from_its_start(redis: Redis) -> None:
    store = ThreadStore(redis)
    await approved_cycle(store)
    await redis.delete(keys.thread(new_thread().id))  # the thread expired; its cursor did not

    await approved_cycle(store)

    assert len(await stream(redis)) == 8
    assert (await store.audit.verify()).problem is None


async def test_trimming_keeps_the_retention_and_the_chain_verifies_from_its_anchor(
    redis: Redis,
) -> None:
    second = 1 / (24 * 3600)
    store = ThreadStore(redis, audit_retention_days=second)
    await approved_cycle(store, ts="1.0")
    await asyncio.sleep(1.1)

    await approved_cycle(store, ts="2.0")  # its appends trim the first thread's entries

    entries = [entry async for entry in store.audit.entries()]
    assert [e["seq"] for e in entries] == [5, 6, 7, 8]
    anchor = await redis.hgetall(keys.audit_anchor())
    assert int(anchor[b"seq"]) == 4 and anchor[b"hash"].decode() == entries[0]["prev"]
    verdict = await store.audit.verify()
    assert verdict.problem is None and (verdict.first_seq, verdict.entries) == (5, 4)

    # A trim inside the retention (by hand, say) is not a valid chain start.
    long_kept = AuditLog(redis)
    problem = (await long_kept.verify()).problem
    assert problem == "entry 4 was trimmed before its retention ended"


async def test_the_log_works_on_a_redis_cluster(cluster_url: str) -> None:
    client = redis_from_url(cluster_url)
    try:
        await client.delete(keys.audit(), keys.audit_head(), keys.audit_anchor())
        store = ThreadStore(client)
        # Threads in different slots append to the one chain in the `{audit}` slot.
        await asyncio.gather(*(approved_cycle(store, ts=f"c{i}") for i in range(3)))

        verdict = await store.audit.verify()
        assert verdict.problem is None and verdict.entries == 12
    finally:
        await close_redis(client)


# Batching: hundreds of threads saved at once cost a few script calls, not one each in turn
# (turn-taking made a worker running hundreds of threads slower than one running a hundred).


async def script_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_three_hundred_saves_at_once_take_a_few_appends_and_keep_one_chain(
    redis: Redis,
) -> None:
    store = ThreadStore(redis)
    threads = [new_thread(f"{i}.0") for i in range(300)]
    for thread in threads:
        assert await store.create(thread)
    asked = [request(thread) for thread in threads]
    before = await script_calls(redis)

    counts = await asyncio.gather(*(store.audit.record(thread) for thread in asked))

    assert counts == [1] * 300
    assert await script_calls(redis) - before <= 4  # 256 a batch, and a first one alone
    assert await asyncio.gather(*(store.audit.record(thread) for thread in asked)) == [0] * 300
    verdict = await AuditLog(redis).verify()
    assert verdict.problem is None and verdict.entries == 300
    entries = [entry async for entry in AuditLog(redis).entries()]
    assert sorted(e["thread_id"] for e in entries) == sorted(t.id for t in threads)


async def test_one_thread_recorded_twice_at_once_is_appended_once(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    assert await store.create(thread)
    asked = request(thread)

    await asyncio.gather(store.audit.record(thread), store.audit.record(asked))

    assert (await AuditLog(redis).verify()).entries == 1
