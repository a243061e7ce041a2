"""Threads in Redis. A thread is a hash {version, z (the thread, compressed)}; saves are
compare-and-set on the version, so two writers can never both advance the same thread."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.audit import AuditLog
from agents.runtime.connect import as_text
from agents.runtime.encoding import decode, encode
from agents.runtime.thread import SlackOrigin, Thread


def thread_id_for(origin: SlackOrigin) -> str:
    """Threads launched from Slack are named after their Slack thread, so a retried launch finds
    the thread it already created."""
    digest = hashlib.sha256(f"{origin.channel}:{origin.thread_ts}".encode()).hexdigest()
    return f"t{digest[:12]}"


class ConflictError(Exception):
    """Someone else saved the thread first; reload and decide again."""


# Compare-and-set as scripts rather than WATCH/MULTI: redis-py's async cluster client cannot
# run WATCH transactions, and a script is one atomic round trip on a standalone server too.
# The hash also keeps what the reconciler reads without parsing the thread: its status, its
# event count `n`, the outbox cursor `delivered` (events before it have shown people what they
# must) and `touched` (when a worker last worked on it, or when a delivery retry is due).
# KEYS: the thread hash, its delivery ledger. ARGV: expected version (-1: must not exist), new
# version, the thread (agents/runtime/encoding.py), ttl, status, event count, now, the outbox
# cursor to move forward to ('' for none; see `hold_cursor`). Returns 0 on a conflict, else
# what the outbox reads next (cursor, touched, tells, deferrals), so a flush after a save needs
# no round trip.
_SAVE = """
local current = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '-1' then
  if current then return 0 end
  redis.call('HSET', KEYS[1], 'delivered', 0)
elseif current ~= ARGV[1] then
  return 0
end
-- A planned delivery retry (a `touched` in the future) stands until it has run.
local touched = tonumber(redis.call('HGET', KEYS[1], 'touched') or '0')
if touched < tonumber(ARGV[7]) then touched = ARGV[7] end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'z', ARGV[3], 'status', ARGV[5],
           'n', ARGV[6], 'touched', touched)
-- A thread saved as plain JSON before compression leaves that copy behind once saved again.
redis.call('HDEL', KEYS[1], 'json')
local cursor = tonumber(redis.call('HGET', KEYS[1], 'delivered') or '0')
if ARGV[8] ~= '' and cursor < tonumber(ARGV[8]) then
  redis.call('HSET', KEYS[1], 'delivered', ARGV[8])
end
-- Never shorten a TTL that scheduled work lengthened (keep_until).
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
local state = redis.call('HMGET', KEYS[1], 'delivered', 'touched', 'tells')
return {1, state[1] or false, tostring(touched), state[3] or false,
        redis.call('HGET', KEYS[2], 'deferrals') or false}
"""


# KEYS: the thread hash. ARGV: new cursor, now. Only an existing thread, only forward.
_MARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cursor = tonumber(redis.call('HGET', KEYS[1], 'delivered') or '0')
if cursor < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'delivered', ARGV[1], 'touched', ARGV[2])
end
return 1
"""
# KEYS: the thread hash. ARGV: when.
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'touched', ARGV[1])
return 1
"""


@dataclass(frozen=True)
class Delivery:
    """What the outbox reads before a flush: the cursor (events before it were delivered),
    when a planned delivery retry is due (`retry_at`, in the past when none is), how many
    refusals wait to be told, and whether Slack's last answers were deferrals (`deferring`)."""

    cursor: int
    retry_at: float
    tells: int
    deferring: bool


def _delivery(thread: Thread, raw: Any, touched: Any, tells: Any, deferrals: Any) -> Delivery:
    # A thread saved before the outbox existed has no cursor: its events count as delivered.
    return Delivery(
        cursor=len(thread.events) if raw is None else int(raw),
        retry_at=float(touched or 0),
        tells=int(tells or 0),
        deferring=int(deferrals or 0) > 0,
    )


KNOWN_DELIVERIES = 10_000
"""Delivery states remembered from loads and saves (one per thread, until its next flush)."""


@dataclass(frozen=True)
class ThreadState:
    """A thread as the reconciler sees it: no events, just where it is."""

    thread_id: str
    status: str
    events: int
    delivered: int
    touched: float
    tells: int = 0

    @property
    def undelivered(self) -> int:
        """Events not yet shown to people, and people not yet told why they were refused."""
        return max(0, self.events - self.delivered) + self.tells


class ThreadStore:
    def __init__(
        self, redis: Redis, *, audit_retention_days: float = keys.AUDIT_RETENTION_DAYS
    ) -> None:
        self._redis = redis
        self.audit = AuditLog(redis, retention_days=audit_retention_days)
        self._save: Any = redis.register_script(_SAVE)
        self._mark: Any = redis.register_script(_MARK)
        self._touch: Any = redis.register_script(_TOUCH)
        # The delivery state read along with a thread's last load or save, by thread id, for
        # the flush that follows it: used once, and only for that very version.
        self._known: dict[str, tuple[int, Delivery]] = {}
        # Outbox cursors delivered up to but not yet written: the thread's next save (or
        # `write_cursor`) writes them, saving a round trip per step.
        self._held: dict[str, int] = {}

    async def create(self, thread: Thread) -> bool:
        """Save a new thread. False, writing nothing, if it exists (a retried launch)."""
        return await self._write(thread, expected=-1, version=0)

    async def save(self, thread: Thread) -> Thread:
        """Save if nobody saved since `thread` was loaded; returns it with the new version."""
        saved = thread.model_copy(update={"version": thread.version + 1})
        if not await self._write(saved, expected=thread.version, version=saved.version):
            raise ConflictError(thread.id)
        return saved

    async def _write(self, thread: Thread, *, expected: int, version: int) -> bool:
        if not await self._put(thread, expected=expected, version=version):
            return False
        # Only a save that won appends, and the audit cursor skips events already appended.
        await self.audit.record(thread)
        return True

    async def _put(self, thread: Thread, *, expected: int, version: int) -> bool:
        held = None if expected == -1 else self._held.pop(thread.id, None)
        written = await self._save(
            keys=[keys.thread(thread.id), keys.deliveries(thread.id)],
            args=[
                expected,
                version,
                encode(thread),
                keys.THREAD_TTL,
                thread.status.value,
                len(thread.events),
                time.time(),
                "" if held is None else held,
            ],
        )
        if not written:
            if held is not None:
                await self.mark_delivered(thread.id, held)
            return False
        self._remember(
            thread.model_copy(update={"version": version}), _delivery(thread, *written[1:])
        )
        return True

    def _remember(self, thread: Thread, state: Delivery) -> None:
        if len(self._known) >= KNOWN_DELIVERIES:
            self._known.pop(next(iter(self._known)))
        self._known[thread.id] = (thread.version, state)

    def forget(self, thread_id: str) -> None:
        """The thread's delivery state changed outside a save (a tell was added): the next
        flush reads it from Redis."""
        self._known.pop(thread_id, None)

    async def delivery(self, thread: Thread) -> Delivery:
        """The delivery state of `thread` (see `Delivery`): as its load or save found it, when
        `thread` is that very version and nothing was flushed since, else read now."""
        known = self._known.pop(thread.id, None)
        if known is not None and known[0] == thread.version:
            return known[1]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.thread(thread.id), ["delivered", "touched", "tells"])
            pipe.hget(keys.deliveries(thread.id), "deferrals")
            (raw, touched, tells), deferrals = await pipe.execute()
        return _delivery(thread, raw, touched, tells, deferrals)

    async def delivered(self, thread: Thread) -> tuple[int, float, int]:
        """The outbox cursor (how many of the thread's events have been delivered), when a
        planned delivery retry is due (`touched`; in the past when none is planned) and how
        many people wait to be told why their input was refused (`tells`, in the ledger). A
        thread saved before the outbox existed has no cursor: its events count as delivered."""
        raw, touched, tells = await self._redis.hmget(
            keys.thread(thread.id), ["delivered", "touched", "tells"]
        )
        cursor = len(thread.events) if raw is None else int(raw)
        return cursor, float(touched or 0), int(tells or 0)

    def hold_cursor(self, thread_id: str, upto: int) -> None:
        """Events before `upto` were delivered: move the outbox cursor with the thread's next
        save instead of now (`write_cursor` writes it when no save follows). A crash before
        then only hands those events to a retry, which the delivery ledger keeps from making
        any Slack call twice."""
        self.forget(thread_id)
        self._held[thread_id] = max(upto, self._held.get(thread_id, 0))

    async def write_cursor(self, thread_id: str) -> None:
        """Write the cursor `hold_cursor` held for the thread, if any."""
        held = self._held.pop(thread_id, None)
        if held is not None:
            await self.mark_delivered(thread_id, held)

    async def mark_delivered(self, thread_id: str, upto: int) -> None:
        """Move the outbox cursor forward to `upto` (never back)."""
        self.forget(thread_id)
        await self._mark(keys=[keys.thread(thread_id)], args=[upto, time.time()])

    async def touch(self, thread_id: str, at: float) -> None:
        """Note that the thread is looked after until `at` (a delivery retry is planned), so
        the reconciler leaves it alone until then."""
        self.forget(thread_id)
        await self._touch(keys=[keys.thread(thread_id)], args=[at])

    async def states(self) -> AsyncIterator[ThreadState]:
        """What the reconciler needs of every thread, without loading any of them."""
        batch: list[str] = []
        async for key in self._redis.scan_iter(match=keys.thread("*"), count=500):
            batch.append(key.decode() if isinstance(key, bytes) else key)
            if len(batch) >= 500:
                for state in await self._states(batch):
                    yield state
                batch = []
        for state in await self._states(batch):
            yield state

    async def _states(self, names: list[str]) -> list[ThreadState]:
        fields = ("status", "n", "delivered", "touched", "tells")
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(name, fields)
            rows: list[Any] = await pipe.execute()
        return [
            ThreadState(
                thread_id=name.split("{", 1)[1].rstrip("}"),
                status=as_text(row[0]),
                events=int(row[1] or 0),
                delivered=int(row[2] or 0),
                touched=float(row[3] or 0),
                tells=int(row[4] or 0),
            )
            for name, row in zip(names, rows, strict=True)
            if row[0] is not None
        ]

    async def keep_until(self, thread_id: str, at: datetime) -> None:
        """Keep the thread (and its delivery records) at least until `at` plus a day, so work
        planned for then (a grant's revocation) still finds it, however long that is."""
        ttl = max(keys.THREAD_TTL, int(at.timestamp() - time.time()) + keys.SEEN_TTL)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in (keys.thread(thread_id), keys.deliveries(thread_id)):
                pipe.expire(key, ttl, gt=True)
            await pipe.execute()

    async def load(self, thread_id: str) -> Thread | None:
        """The thread as last saved (None if there is none). Its delivery state comes along in
        the same round trip, for the flush that usually follows."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(keys.thread(thread_id), ["z", "json", "delivered", "touched", "tells"])
            pipe.hget(keys.deliveries(thread_id), "deferrals")
            (packed, raw, cursor, touched, tells), deferrals = await pipe.execute()
        if not (packed or raw):
            return None
        thread = decode(packed or raw)  # `json`: saved before threads were compressed
        self._remember(thread, _delivery(thread, cursor, touched, tells, deferrals))
        return thread

    async def exists(self, thread_id: str) -> bool:
        return bool(await self._redis.exists(keys.thread(thread_id)))

    async def find(self, origin: SlackOrigin) -> str | None:
        """The thread launched in this Slack thread, if any."""
        thread_id = thread_id_for(origin)
        return thread_id if await self.exists(thread_id) else None

    async def thread_ids(self) -> list[str]:
        ids: list[str] = []
        async for key in self._redis.scan_iter(match=keys.thread("*"), count=500):
            name = key.decode() if isinstance(key, bytes) else key
            ids.append(name.split("{", 1)[1].rstrip("}"))
        return sorted(ids)
