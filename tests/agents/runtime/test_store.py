"""Thread persistence on a real Redis: versioned compare-and-set and idempotent create."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.events import Error, UserMessage
from agents.runtime.store import ConflictError, ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread


def new_thread() -> Thread:
    origin = SlackOrigin(channel="C1", thread_ts="1.0")
    return Thread(
        id=thread_id_for(origin),
        agent="deploy",
        requester="U1",
        origin=origin,
        events=[UserMessage(user="U1", text="hi")],
    )


async def test_create_is_idempotent_and_round_trips(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    assert await store.create(thread) is True
    assert await store.create(thread.append(Error(message="x"))) is False
    assert await store.load(thread.id) == thread
    assert await store.find(thread.origin) == thread.id  # type: ignore[arg-type]
    assert 0 < await redis.ttl(keys.thread(thread.id)) <= keys.THREAD_TTL


async def test_save_is_compare_and_set(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    await store.create(thread)
    saved = await store.save(thread.append(Error(message="first")))
    assert saved.version == 1
    with pytest.raises(ConflictError):
        await store.save(thread.append(Error(message="stale writer")))
    loaded = await store.load(thread.id)
    assert loaded is not None and loaded.version == 1
    assert [e.message for e in loaded.events if isinstance(e, Error)] == ["first"]


async def test_concurrent_saves_of_one_version_let_exactly_one_win(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    await store.create(thread)

    async def attempt(i: int) -> bool:
        try:
            await store.save(thread.append(Error(message=str(i))))
        except ConflictError:
            return False
        return True

    wins = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert sum(wins) == 1


async def test_the_outbox_cursor_moves_only_forward_and_a_planned_retry_survives_saves(
    redis: Redis,
) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    await store.create(thread)
    assert await store.delivered(thread) == (0, pytest.approx(time.time(), abs=5), 0)
    await store.mark_delivered(thread.id, 1)
    await store.mark_delivered(thread.id, 0)  # a slow worker's stale cursor
    assert (await store.delivered(thread))[0] == 1

    later = time.time() + 60
    await store.touch(thread.id, later)
    saved = await store.save(thread.append(Error(message="a step")))
    assert (await store.delivered(saved))[1] == later  # a save does not cancel the retry
    (state,) = [s async for s in store.states()]
    assert (state.status, state.events, state.delivered, state.undelivered) == ("running", 2, 1, 1)


async def test_a_thread_saved_before_the_outbox_counts_as_delivered(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    await store.create(thread)
    await redis.hdel(keys.thread(thread.id), "delivered")  # as an older version saved it
    assert (await store.delivered(thread))[0] == len(thread.events)


async def test_keep_until_lengthens_and_a_save_never_shortens_the_ttl(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = new_thread()
    await store.create(thread)
    in_60_days = datetime.now(UTC) + timedelta(days=60)
    await store.keep_until(thread.id, in_60_days)
    await store.save(thread.append(Error(message="later")))
    assert await redis.ttl(keys.thread(thread.id)) > 59 * 24 * 3600
