"""Audit appends of one process go in batches: hundreds of threads saved at once cost a few
script calls, not one each taken in turn (the turn-taking made a worker running hundreds of
threads slower than one running a hundred), and the chain stays whole and exactly-once."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from agents.runtime.audit import AuditLog
from agents.runtime.store import ThreadStore
from tests.agents.runtime.test_audit import new_thread, request


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
