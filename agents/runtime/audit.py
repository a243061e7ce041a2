"""The audit log: every human request, decision, edit, tool run and operator action, appended to
one hash-chained Redis stream as the threads holding them are saved.

Each entry is canonical JSON carrying `seq` (1, 2, 3, ...) and `prev`, the hash of the entry
before it; its own hash is sha256 over that JSON. Changing an entry breaks its hash (or, if the
hash is recomputed, the next entry's `prev`); removing one leaves a gap in `seq`. Entries older
than the retention are trimmed oldest first, and the anchor remembers the last one trimmed, so
the chain still verifies from where it now starts.

Appending is optimistic: read the chain head and the thread's cursor, hash the new entries in
Python (Redis's Lua has no sha256), then a script appends them only if neither moved, and moves
both. A conflict (another process appended) re-reads and re-hashes. A script rather than
WATCH/MULTI because redis-py's async cluster client cannot WATCH; every key is in the `{audit}`
slot. The cursor makes an append exactly-once per event: a repeated save finds its events taken.
Within a process appends are batched: the saves that come while one append is under way wait
and go together in the next (one read and one script call for them all), so only processes
race for the head. With every concurrent step racing, each append would cost as many attempts
as there are steps; with appends taking turns one by one (as before), hundreds of threads in
one process queued behind each other's round trips, each turn the slower the more tasks the
event loop had to run in between.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents.runtime import keys
from agents.runtime.connect import as_text
from agents.runtime.events import (
    HUMAN_INTENTS,
    ApprovalDecision,
    Event,
    HumanResponse,
    RequestExpired,
    ToolCall,
)
from agents.runtime.thread import Thread

log = logging.getLogger(__name__)

GENESIS = "0" * 64
"""The `prev` of the first entry ever appended."""
AUDITED = frozenset(
    {
        "approval_decision",
        "break_glass_reviewed",
        "human_response",
        "escalation_taken",
        "tool_result",
        "paused",
        "resumed",
        "stopped",
        "request_expired",
    }
)
"""Event types always audited; a `tool_call` is audited when it asks a person."""
_ATTEMPTS = 200
BATCH = 256
"""At most this many threads' events go in one append (one script call)."""


@dataclass
class _Batching:
    """One event loop's appends: threads waiting for the next batch, and its runner."""

    waiting: dict[str, tuple[Thread, list[asyncio.Future[int]]]] = field(default_factory=dict)
    runner: asyncio.Task[None] | None = None


# KEYS: stream, head, anchor, then one cursor per thread. ARGV: expected head ('' for none),
# ttl seconds, trim below this ms, new head, n threads, then (expected cursor, new cursor) per
# thread, then (entry json, hash) pairs.
_APPEND = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[5])
for i = 1, n do
  if (redis.call('GET', KEYS[3 + i]) or '') ~= ARGV[4 + 2 * i] then return 0 end
end
local seq = tonumber(string.match(ARGV[1], '^(%d+)') or '0')
for i = 6 + 2 * n, #ARGV, 2 do
  seq = seq + 1
  redis.call('XADD', KEYS[1], '*', 'seq', seq, 'hash', ARGV[i + 1], 'entry', ARGV[i])
end
redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[2])
for i = 1, n do redis.call('SET', KEYS[3 + i], ARGV[5 + 2 * i], 'EX', ARGV[2]) end
-- Trim only entries past the retention, oldest first (100 an append), noting each in the anchor.
for _ = 1, 100 do
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if not first then break end
  local ms = tonumber(string.match(first[1], '^(%d+)'))
  if ms >= tonumber(ARGV[3]) then break end
  local fields = {}
  for j = 1, #first[2], 2 do fields[first[2][j]] = first[2][j + 1] end
  redis.call('HSET', KEYS[3], 'hash', fields['hash'], 'seq', fields['seq'], 'at_ms', ms)
  redis.call('XDEL', KEYS[1], first[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return 1
"""


def canonical(entry: dict[str, Any]) -> str:
    """The one JSON text of an entry that its hash covers."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry).encode()).hexdigest()


def is_audited(event: Event) -> bool:
    if isinstance(event, ToolCall):
        return event.intent in HUMAN_INTENTS
    return event.type in AUDITED


def entry_for(thread: Thread, index: int) -> dict[str, Any]:
    """What the log says about event `index` of `thread` (without `seq` and `prev`)."""
    event = thread.events[index]
    entry: dict[str, Any] = {
        "thread_id": thread.id,
        "agent": thread.agent,
        "index": index,
        "type": event.type,
        "at": event.at.isoformat(),
        "actor": _actor(thread, event),
        "event": event.model_dump(mode="json"),
    }
    if isinstance(event, ToolCall) and (relay := thread.relayed_by(event.call_id)) is not None:
        entry["via"] = relay  # the API token that asked for it on the requester's behalf
    if isinstance(event, ApprovalDecision | HumanResponse | RequestExpired):
        asked = thread.call(event.call_id)
        if asked is not None:
            entry["seconds_to_decision"] = round((event.at - asked.at).total_seconds(), 3)
    if isinstance(event, ApprovalDecision) and event.break_glass:
        # Loud in the log too: a SIEM rule can match on these without reading the event.
        entry["break_glass"] = {"reason": event.reason}
    return entry


def _actor(thread: Thread, event: Event) -> str | None:
    if isinstance(event, ToolCall):
        return thread.requester_of(event.call_id)
    actor = getattr(event, "user", None) or getattr(event, "by", None)
    return str(actor) if actor is not None else None


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: how many entries checked, and the first problem (None: intact)."""

    entries: int
    first_seq: int
    problem: str | None


class AuditLog:
    """Appends thread events to the audit stream, exports and verifies it."""

    def __init__(self, redis: Redis, *, retention_days: float = keys.AUDIT_RETENTION_DAYS) -> None:
        self._redis = redis
        self._retention_s = retention_days * 24 * 3600
        # Keys outlive their newest entry's retention (refreshed on every append), with a day
        # to spare: an expiry never takes an entry the trim would still keep.
        self._ttl = int(self._retention_s) + 24 * 3600
        self._append: Any = redis.register_script(_APPEND)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batching] = (
            weakref.WeakKeyDictionary()
        )

    async def record(self, thread: Thread) -> int:
        """Append the audited events of `thread` not appended before; how many were. Called
        after every successful save. A Redis failure is logged, not raised: the save stands,
        and the thread's next save appends what this one missed (the cursor did not move)."""
        batching = self._batching()
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        earlier, waiters = batching.waiting.get(thread.id, (thread, []))
        # The same thread twice in one batch: its longer history covers the shorter one.
        newer = thread if len(thread.events) >= len(earlier.events) else earlier
        batching.waiting[thread.id] = (newer, [*waiters, done])
        if batching.runner is None or batching.runner.done():
            batching.runner = asyncio.create_task(self._run_batches(batching))
        try:
            return await asyncio.shield(done)  # a cancelled save leaves the batch to the rest
        except RedisError as exc:
            log.warning("audit append for %s failed (%s); next save retries", thread.id, exc)
            return 0

    def _batching(self) -> _Batching:
        loop = asyncio.get_running_loop()
        batching = self._loops.get(loop)
        if batching is None:
            batching = self._loops[loop] = _Batching()
        return batching

    async def _run_batches(self, batching: _Batching) -> None:
        """Append what waits, batch after batch, until nothing does."""
        while batching.waiting:
            taken = list(batching.waiting.items())[:BATCH]
            for thread_id, _ in taken:
                del batching.waiting[thread_id]
            threads = [thread for _, (thread, _) in taken]
            try:
                counts = await self._append_batch(threads)
            except Exception as exc:
                for _, (_, waiters) in taken:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                continue
            for thread_id, (_, waiters) in taken:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(counts.get(thread_id, 0))

    async def _append_batch(self, threads: list[Thread]) -> dict[str, int]:
        for _ in range(_ATTEMPTS):
            appended = await self._try_append(threads)
            if appended is not None:
                return appended
            await asyncio.sleep(random.uniform(0, 0.005))
        log.warning(
            "audit append of %d thread(s) kept conflicting; next save retries", len(threads)
        )
        return {}

    async def _try_append(self, threads: list[Thread]) -> dict[str, int] | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.audit_head())
            for thread in threads:
                pipe.get(keys.audit_cursor(thread.id))
            raw_head, *raw_cursors = await pipe.execute()
        head = as_text(raw_head)
        seq_text, _, prev = head.partition(" ")
        seq, prev = int(seq_text or 0), prev or GENESIS
        counts: dict[str, int] = {}
        cursor_keys: list[str] = []
        cursor_args: list[str] = []
        entry_args: list[str] = []
        for thread, raw_cursor in zip(threads, raw_cursors, strict=True):
            cursor = as_text(raw_cursor)
            indexes = _unrecorded(thread, cursor)
            if not indexes:
                continue  # nothing to append; the next append moves the cursor past these
            for index in indexes:
                seq += 1
                entry = entry_for(thread, index) | {"seq": seq, "prev": prev}
                prev = entry_hash(entry)
                entry_args += [canonical(entry), prev]
            counts[thread.id] = len(indexes)
            cursor_keys.append(keys.audit_cursor(thread.id))
            cursor_args += [cursor, f"{thread.created_at.isoformat()} {len(thread.events)}"]
        if not counts:
            return counts
        ok = await self._append(
            keys=[keys.audit(), keys.audit_head(), keys.audit_anchor(), *cursor_keys],
            args=[
                head,
                self._ttl,
                int((time.time() - self._retention_s) * 1000),
                f"{seq} {prev}",
                len(cursor_keys),
                *cursor_args,
                *entry_args,
            ],
        )
        return counts if ok else None

    async def entries(self, *, since: datetime | None = None) -> AsyncIterator[dict[str, Any]]:
        """Entries recorded at or after `since`, oldest first, each with its stream `id`,
        `recorded_at` and `hash` beside the hashed fields."""
        start = f"{int(since.timestamp() * 1000)}-0" if since else "-"
        async for entry_id, fields in self._stream(start):
            entry = json.loads(fields["entry"])
            recorded = datetime.fromtimestamp(int(entry_id.split("-")[0]) / 1000, UTC)
            yield (
                {"id": entry_id, "recorded_at": recorded.isoformat()}
                | entry
                | {"hash": fields["hash"]}
            )

    async def _stream(self, start: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
        while True:
            batch: Any = await self._redis.xrange(keys.audit(), min=start, count=500)
            for raw_id, raw_fields in batch:
                yield as_text(raw_id), {as_text(k): as_text(v) for k, v in raw_fields.items()}
            if len(batch) < 500:
                return
            start = "(" + as_text(batch[-1][0])

    async def verify(self) -> Verdict:
        """Walk the chain from its anchor: the first changed, removed or trimmed-too-early entry."""
        anchor = {
            as_text(k): as_text(v)
            for k, v in (await self._redis.hgetall(keys.audit_anchor())).items()
        }
        prev, seq = anchor.get("hash", GENESIS), int(anchor.get("seq", 0))
        first, count = seq + 1, 0
        if anchor and int(anchor["at_ms"]) / 1000 > time.time() - self._retention_s:
            return Verdict(0, first, f"entry {seq} was trimmed before its retention ended")
        async for entry_id, fields in self._stream("-"):
            problem = _check(entry_id, fields, seq=seq, prev=prev)
            if problem:
                return Verdict(count, first, problem)
            count, seq, prev = count + 1, seq + 1, fields["hash"]
        head = as_text(await self._redis.get(keys.audit_head()))
        if head and head != f"{seq} {prev}":
            return Verdict(count, first, f"entries after {seq} were removed (head is {head[:20]}…)")
        return Verdict(count, first, None)


def _check(entry_id: str, fields: dict[str, str], *, seq: int, prev: str) -> str | None:
    try:
        entry = json.loads(fields["entry"])
        found = int(fields["seq"])
    except (KeyError, ValueError):
        return f"entry {entry_id} is not an audit entry"
    if found != seq + 1 or entry.get("seq") != found:
        return f"entry {seq + 1} is missing (the next one is {entry_id}, seq {found})"
    if entry_hash(entry) != fields.get("hash"):
        return f"entry {found} ({entry_id}, thread {entry.get('thread_id')}) was changed"
    if entry.get("prev") != prev:
        return f"entry {found} ({entry_id}) does not follow entry {seq}: one of them was changed"
    return None


def _unrecorded(thread: Thread, cursor: str) -> list[int]:
    """Indexes of the thread's audited events past its cursor (`created n`)."""
    mark, _, done = cursor.partition(" ")
    start = int(done) if mark == thread.created_at.isoformat() else 0  # a new thread, same id
    return [i for i in range(start, len(thread.events)) if is_audited(thread.events[i])]
