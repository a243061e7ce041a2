"""The outbox: what a thread must show people, delivered after it is saved, never lost.

A thread's events are its outbox. Each save records new events; the thread hash keeps a cursor
(`delivered`) of how many of them have been shown to people, in the same Redis hash, so what a
state change must show is recorded in the same atomic save as the change itself. `flush` hands
each undelivered event, in order, to the notifier (which renders it as a pure projection of the
thread and makes each Slack call at most once), then moves the cursor.

- Slack unreachable (5xx, 429, timeout): the cursor stays, an `Advance` job is planned with
  backoff (first retry after 1 s, doubling to 5 minutes) and the run goes on meanwhile:
  progress never waits on a message.
- Slack refusing for good: the notifier shows a fallback and says what was refused; that
  becomes an `Error(scope="delivery")` event in the audit, and a metric.
- A crash anywhere: the cursor did not move, so the job's retry or the reconciler delivers it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import Error
from agents.runtime.jobs import Advance
from agents.runtime.metrics import Metrics
from agents.runtime.store import ConflictError, ThreadStore
from agents.runtime.thread import Status, Thread
from agents.runtime.types import DeliveryDeferred, Notifier, Tell

log = logging.getLogger(__name__)

FIRST_RETRY = 1.0
MAX_RETRY = 300.0
SAVE_ATTEMPTS = 20
CLOCK_SKEW = 0.25
"""A retry job may fire this much before its due time by this worker's clock."""


class DeliveryRecord(BaseModel):
    """What happened to one Slack call of a delivery. `sending`: it was (maybe) made and its
    answer never came back, so look for it before making it again."""

    state: Literal["sending", "sent", "refused"]
    channel: str = ""
    ts: str | None = None
    error: str | None = None
    at: float = 0.0


def encode_record(record: DeliveryRecord) -> str:
    """`state channel ts at`, about 35 bytes: kept under Redis's 64-byte listpack limit, so a
    thread's whole ledger stays a compact listpack hash. JSON when it has an error (free text)
    or a part that holds a space."""
    parts = [record.state, record.channel, record.ts or "-", repr(record.at)]
    if record.error is not None or any(not p or " " in p for p in parts[1:3]):
        return record.model_dump_json(exclude_defaults=True)
    return " ".join(parts)


def decode_record(raw: bytes | str) -> DeliveryRecord:
    """A record as `encode_record` wrote it, or as JSON (how records were stored before)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text.startswith("{"):
        return DeliveryRecord.model_validate_json(text)
    state, channel, ts, at = text.split(" ")
    return DeliveryRecord.model_validate(
        {"state": state, "channel": channel, "ts": None if ts == "-" else ts, "at": float(at)}
    )


# KEYS: the ledger hash. ARGV: field, value, ttl. A new hash gets the thread's TTL; a longer
# one that scheduled work set (ThreadStore.keep_until) is kept.
_PUT = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return 1
"""


# KEYS: the ledger hash. ARGV: claim field, token, now, stale after (s), ttl. Take (or renew)
# the right to make a delivery's Slack call, unless another worker took it less than `stale
# after` ago: its call may still be under way, or still land. Returns 1 when taken, else the
# time the other claim was taken (renewed).
_CLAIM = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local at, holder = string.match(current, '^(%S+) (%S+)$')
  if holder ~= ARGV[2] and tonumber(ARGV[3]) - tonumber(at) < tonumber(ARGV[4]) then
    return at
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. ' ' .. ARGV[2])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[5]) then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return 1
"""


# KEYS: the ledger hash. ARGV: claim field, token. Drop a claim only if it is still ours.
_RELEASE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.sub(current, -string.len(ARGV[2])) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


# KEYS: the ledger hash, the thread hash. ARGV: tell field, tell json, ttl. A tell waits in the
# ledger; the thread hash counts them (`tells`) so the reconciler sees them. Once per field.
_ADD_TELL = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'tells', 1)
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return 1
"""
# KEYS: the ledger hash, the thread hash. ARGV: tell field. Leaves no trace once none is left.
_DROP_TELL = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], 'tells', -1) <= 0 then
  redis.call('HDEL', KEYS[2], 'tells')
end
return 1
"""


class DeliveryLedger:
    """Every Slack call a delivery made, by delivery id (`keys.deliveries`): read before each
    call so that a retry never repeats one that went through."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._put: Any = redis.register_script(_PUT)
        self._claim: Any = redis.register_script(_CLAIM)
        self._release: Any = redis.register_script(_RELEASE)
        self._add_tell: Any = redis.register_script(_ADD_TELL)
        self._drop_tell: Any = redis.register_script(_DROP_TELL)

    async def get(self, thread_id: str, delivery_id: str) -> DeliveryRecord | None:
        raw = await self._redis.hget(keys.deliveries(thread_id), delivery_id)
        return decode_record(raw) if raw else None

    async def put(self, thread_id: str, delivery_id: str, record: DeliveryRecord) -> None:
        await self._set(thread_id, delivery_id, encode_record(record))

    async def claim(
        self, thread_id: str, delivery_id: str, *, token: str, stale_after: float
    ) -> float | None:
        """Take (or renew) the right to make delivery `delivery_id`'s Slack call now: None
        when taken. While another worker's claim is younger than `stale_after` seconds, the
        time it lapses instead: two workers that both believe they hold the thread (a lease
        that ran out during a pause) never post the same thing."""
        answer = await self._claim(
            keys=[keys.deliveries(thread_id)],
            args=[f"claim:{delivery_id}", token, time.time(), stale_after, keys.THREAD_TTL],
        )
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return None if text == "1" else float(text) + stale_after

    async def release(self, thread_id: str, delivery_id: str, *, token: str) -> None:
        """The call was made (or failed): drop our claim so a retry need not wait it out."""
        await self._release(keys=[keys.deliveries(thread_id)], args=[f"claim:{delivery_id}", token])

    async def add_tell(self, thread_id: str, key: str, tell: Tell) -> None:
        """Keep `tell` until it is shown (once per `key`: a redelivered job adds nothing)."""
        await self._add_tell(
            keys=[keys.deliveries(thread_id), keys.thread(thread_id)],
            args=[f"tell:{key}", tell.model_dump_json(), keys.THREAD_TTL],
        )

    async def note_refusal(self, thread_id: str, key: str, tell: Tell) -> None:
        """Keep a refused job's `tell` for a while under the job's key, after it is shown too,
        so whoever queued the job (the CLI) can report the refusal."""
        await self._redis.set(
            keys.refusal(thread_id, key), tell.model_dump_json(), ex=keys.REFUSAL_TTL
        )

    async def refusal(self, thread_id: str, key: str) -> Tell | None:
        """The refusal of job `key` in thread `thread_id`, if it was refused lately."""
        raw = await self._redis.get(keys.refusal(thread_id, key))
        return None if raw is None else Tell.model_validate_json(raw)

    async def tells(self, thread_id: str) -> list[tuple[str, Tell]]:
        """The tells waiting to be shown, by key."""
        found: list[tuple[str, Tell]] = []
        async for field, raw in self._redis.hscan_iter(keys.deliveries(thread_id), "tell:*"):
            name = field.decode() if isinstance(field, bytes) else field
            found.append((name.removeprefix("tell:"), Tell.model_validate_json(raw)))
        return found

    async def drop_tell(self, thread_id: str, key: str) -> None:
        await self._drop_tell(
            keys=[keys.deliveries(thread_id), keys.thread(thread_id)], args=[f"tell:{key}"]
        )

    async def request_message(self, thread_id: str, call_id: str) -> tuple[str, str] | None:
        """(channel, ts) of the Slack message that shows human request `call_id`."""
        raw = await self._redis.hget(keys.deliveries(thread_id), f"request:{call_id}")
        if raw is None:
            return None
        channel, ts = (raw.decode() if isinstance(raw, bytes) else raw).split(" ", 1)
        return channel, ts

    async def set_request_message(
        self, thread_id: str, call_id: str, channel: str, ts: str
    ) -> None:
        await self._set(thread_id, f"request:{call_id}", f"{channel} {ts}")

    async def flag(self, thread_id: str, name: str) -> str | None:
        """A small piece of delivery state (e.g. whether the working reaction is shown)."""
        raw = await self._redis.hget(keys.deliveries(thread_id), f"flag:{name}")
        return None if raw is None else (raw.decode() if isinstance(raw, bytes) else raw)

    async def set_flag(self, thread_id: str, name: str, value: str) -> None:
        await self._set(thread_id, f"flag:{name}", value)

    async def deferred(self, thread_id: str) -> int:
        """Count one more delivery attempt Slack did not answer; returns the streak."""
        return int(await self._redis.hincrby(keys.deliveries(thread_id), "deferrals", 1))

    async def answered(self, thread_id: str) -> None:
        await self._redis.hdel(keys.deliveries(thread_id), "deferrals")

    async def _set(self, thread_id: str, field: str, value: str) -> None:
        await self._put(keys=[keys.deliveries(thread_id)], args=[field, value, keys.THREAD_TTL])


def retry_delay(attempt: int) -> float:
    """Seconds before delivery attempt `attempt + 1` (attempt 1 failed: 1 s, then 2, 4...)."""
    return min(MAX_RETRY, FIRST_RETRY * 2.0 ** max(0, attempt - 1))


class Outbox:
    def __init__(
        self,
        *,
        store: ThreadStore,
        ledger: DeliveryLedger,
        notifier: Notifier,
        deadlines: Deadlines,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._notifier = notifier
        self._deadlines = deadlines
        self._metrics = metrics
        self._clock = clock

    async def flush(self, thread: Thread, *, hold_cursor: bool = False) -> Thread:
        """Deliver every undelivered event of `thread`, in order. Returns the thread as saved
        (with an error event for each refusal). Call it only while holding the thread's lease.
        `hold_cursor`: the caller saves the thread next (or calls `ThreadStore.write_cursor`),
        and that save moves the outbox cursor: one round trip less per step."""
        state = await self._store.delivery(thread)
        cursor, tells = state.cursor, state.tells
        pending = cursor < len(thread.events) or tells > 0
        if pending and state.retry_at > self._clock() + CLOCK_SKEW:
            return thread  # Slack was unreachable: its planned retry delivers, in order
        streak = state.deferring  # a deferral streak is running: the first answer ends it
        start = cursor
        while cursor < len(thread.events):
            try:
                refused = await self._notifier.deliver(thread, cursor)
            except DeliveryDeferred as exc:
                await self._mark(thread.id, start, cursor, hold=False)
                await self._defer(thread, exc)
                return thread
            if streak:
                await self._ledger.answered(thread.id)
                streak = False
            if refused:
                thread = await self._record(thread, refused)
            cursor += 1
        # One cursor move for the whole batch: a crash before it only hands the batch to the
        # retry again, and the ledger makes each of its Slack calls at most once.
        await self._mark(thread.id, start, cursor, hold=hold_cursor)
        if tells and not await self._tell_all(thread):
            return thread
        await self._notifier.working(thread, thread.status is Status.RUNNING)
        return thread

    async def _mark(self, thread_id: str, start: int, cursor: int, *, hold: bool) -> None:
        if cursor > start and hold:
            self._store.hold_cursor(thread_id, cursor)
        elif cursor > start:
            await self._store.mark_delivered(thread_id, cursor)

    async def tell(self, thread: Thread, tell: Tell, *, key: str | None) -> None:
        """Keep `tell` for its person until it is shown (the next flush shows it). `key` (the
        job's) makes a redelivered job's tell the same one."""
        self._store.forget(thread.id)  # the next flush must see the tell
        await self._ledger.add_tell(thread.id, key or secrets.token_hex(8), tell)
        if key is not None:
            await self._ledger.note_refusal(thread.id, key, tell)

    async def _tell_all(self, thread: Thread) -> bool:
        """Show every waiting tell; False when Slack could not be reached (a retry is planned)."""
        for key, tell in await self._ledger.tells(thread.id):
            try:
                refused = await self._notifier.tell(thread, tell)
            except DeliveryDeferred as exc:
                await self._defer(thread, exc)
                return False
            if refused:
                thread = await self._record(thread, refused)
            await self._ledger.drop_tell(thread.id, key)
        return True

    async def _defer(self, thread: Thread, why: DeliveryDeferred) -> None:
        attempt = await self._ledger.deferred(thread.id)
        delay = retry_delay(attempt) if why.at is None else max(0.1, why.at - self._clock())
        due = self._clock() + delay
        log.warning(
            "thread %s: Slack unreachable (%s); retry %d in %.0fs", thread.id, why, attempt, delay
        )
        self._metrics.delivery_retries.inc()
        await self._store.touch(thread.id, due)
        job = Advance(thread_id=thread.id, reason="delivery retry")
        await self._deadlines.schedule_job(job, at=_utc(due))

    async def _record(self, thread: Thread, refused: list[str]) -> Thread:
        """Append what Slack refused to the thread as delivery errors (the audit)."""
        errors = [Error(message=message[:500], scope="delivery") for message in refused]
        for message in refused:
            log.error("thread %s: %s", thread.id, message)
            self._metrics.delivery_refusals.inc()
        for _ in range(SAVE_ATTEMPTS):
            try:
                return await self._store.save(thread.append(*errors))
            except ConflictError:
                latest = await self._store.load(thread.id)
                if latest is None:
                    return thread
                thread = latest
        raise RuntimeError(f"thread {thread.id}: could not record delivery errors")


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
