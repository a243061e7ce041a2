"""The lighter save and load: the compact stored thread, compact delivery records, the outbox
cursor carried by the next save, and the delivery state read along with a load or a save.
Real Redis."""

from __future__ import annotations

import zlib

import pytest
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.encoding import decode, encode
from agents.runtime.events import Error, UserMessage
from agents.runtime.outbox import DeliveryRecord, decode_record, encode_record
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread


def _thread(n: int = 1) -> Thread:
    events = [UserMessage(user="U1", text=f"deploy api {i} to production") for i in range(n)]
    return Thread(id="tformat", agent="deploy", requester="U1", events=list(events))


def test_encoding_round_trips_reads_plain_json_and_refuses_unknown_formats() -> None:
    thread = _thread(3)
    stored = encode(thread)
    assert decode(stored) == thread
    assert len(stored) < len(thread.model_dump_json()) / 2
    assert decode(thread.model_dump_json().encode()) == thread  # saved before compression
    assert decode(thread.model_dump_json()) == thread
    with pytest.raises(ValueError, match="unknown stored thread format"):
        decode(b"\x09" + zlib.compress(b"{}"))


def test_delivery_records_are_compact_and_old_json_records_still_read() -> None:
    sent = DeliveryRecord(state="sent", channel="C0123456789", ts="1796042527.619368")
    assert len(encode_record(sent)) <= 64  # Redis keeps the ledger a listpack
    assert decode_record(encode_record(sent)) == sent
    sending = DeliveryRecord(state="sending", channel="C1", at=1796042527.25)
    assert decode_record(encode_record(sending).encode()) == sending
    refused = DeliveryRecord(state="refused", channel="C1", error="msg too long: a b")
    assert (
        encode_record(refused).startswith("{") and decode_record(encode_record(refused)) == refused
    )
    old = b'{"state":"sent","channel":"C0DEPLOYS","ts":"1796042527.619368"}'
    assert decode_record(old) == DeliveryRecord(
        state="sent", channel="C0DEPLOYS", ts="1796042527.619368"
    )


async def test_a_held_cursor_goes_out_with_the_next_save(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = _thread()
    await store.create(thread)
    store.hold_cursor(thread.id, 1)
    assert await redis.hget(keys.thread(thread.id), "delivered") == b"0"  # not written yet
    saved = await store.save(thread.append(Error(message="x")))
    assert await redis.hget(keys.thread(thread.id), "delivered") == b"1"
    store.hold_cursor(saved.id, 2)
    await store.write_cursor(saved.id)  # no save follows
    assert await redis.hget(keys.thread(thread.id), "delivered") == b"2"
    store.hold_cursor(saved.id, 1)
    await store.write_cursor(saved.id)
    assert await redis.hget(keys.thread(thread.id), "delivered") == b"2"  # never back


async def test_a_held_cursor_is_written_even_when_the_save_conflicts(redis: Redis) -> None:
    store = ThreadStore(redis)
    thread = _thread()
    await store.create(thread)
    await ThreadStore(redis).save(thread.append(Error(message="elsewhere")))
    store.hold_cursor(thread.id, 1)
    with pytest.raises(Exception, match="tformat"):
        await store.save(thread.append(Error(message="stale")))
    assert await redis.hget(keys.thread(thread.id), "delivered") == b"1"


async def test_the_delivery_state_comes_with_a_load_and_is_read_again_once_used(
    redis: Redis,
) -> None:
    store = ThreadStore(redis)
    thread = _thread(2)
    await store.create(thread)
    await store.mark_delivered(thread.id, 1)
    loaded = await store.load(thread.id)
    assert loaded is not None
    await redis.hset(keys.thread(thread.id), "tells", 1)  # changed after the load
    first = await store.delivery(loaded)
    assert (first.cursor, first.tells) == (1, 0)  # as the load found it: no round trip
    again = await store.delivery(loaded)
    assert (again.cursor, again.tells) == (1, 1)  # used once, then read anew
    await store.load(thread.id)
    store.forget(thread.id)  # a tell was added: the next flush reads it
    assert (await store.delivery(loaded)).tells == 1
