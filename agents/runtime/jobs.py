"""Jobs: what the Slack edge (or CLI, or API) asks workers to do, on a Redis Stream with a
consumer group. The edge only enqueues; workers load the thread and step it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from agents.runtime import keys
from agents.runtime.store import thread_id_for
from agents.runtime.thread import SlackOrigin


class _Job(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Launch(_Job):
    """Start an agent on `user`'s request in a Slack thread."""

    kind: Literal["launch"] = "launch"
    user: str
    text: str
    origin: SlackOrigin
    message_ts: str
    via: str | None = None
    """Who relayed the request for `user` when not Slack itself (`API token ci`); that
    caller may not approve what it asked for."""


class Decide(_Job):
    """A person clicked Approve or Reject on the request `call_id`."""

    kind: Literal["decide"] = "decide"
    thread_id: str
    call_id: str
    action_hash: str
    approved: bool
    user: str
    reason: str | None = None
    edited_action: dict[str, Any] | None = None
    via: str | None = None
    """Who relayed the decision for `user` when not Slack itself (`API token ci`)."""
    break_glass: bool = False
    """The requester approves their own call with `reason`, where policy allows it."""


class Acknowledge(_Job):
    """A person clicked "Acknowledge" on the break-glass notice of request `call_id`."""

    kind: Literal["acknowledge"] = "acknowledge"
    thread_id: str
    call_id: str
    user: str


class Respond(_Job):
    """A person picked an answer button on question `call_id`."""

    kind: Literal["respond"] = "respond"
    thread_id: str
    call_id: str
    user: str
    text: str
    via: str | None = None
    """Who relayed the answer for `user` when not Slack itself (`API token ci`)."""


class Take(_Job):
    """An on-call person clicked "Take it" on escalation `call_id`."""

    kind: Literal["take"] = "take"
    thread_id: str
    call_id: str
    user: str


class Deadline(_Job):
    """Request `call_id` is due for a reminder, or has expired; `review`: its break-glass
    approval is due for a reminder to acknowledge it."""

    kind: Literal["deadline"] = "deadline"
    thread_id: str
    call_id: str
    intent: str
    event: Literal["remind", "expire", "review"]


class Control(_Job):
    """Pause, resume or stop a thread (from the CLI or the HTTP API)."""

    kind: Literal["control"] = "control"
    thread_id: str
    action: Literal["pause", "resume", "stop"]
    by: str
    reason: str | None = None


class Reply(_Job):
    """A person wrote in the Slack thread of an agent thread; `mentioned` if they @-ed the bot."""

    kind: Literal["reply"] = "reply"
    thread_id: str
    user: str
    text: str
    message_ts: str
    mentioned: bool = False


class Scheduled(_Job):
    """A tool call planned for later in thread `thread_id` (a grant's revocation on expiry);
    see agents/runtime/scheduled.py. `attempt` counts failed runs, retried with backoff."""

    kind: Literal["scheduled"] = "scheduled"
    thread_id: str
    call: dict[str, Any]
    attempt: int = 0


class Advance(_Job):
    """Carry thread `thread_id` on: deliver what its events must show people, then take any
    steps it can. Idempotent; the reconciler and delivery retries send it."""

    kind: Literal["advance"] = "advance"
    thread_id: str
    reason: str = ""


Job = Annotated[
    Launch
    | Decide
    | Acknowledge
    | Respond
    | Take
    | Deadline
    | Reply
    | Scheduled
    | Control
    | Advance,
    Field(discriminator="kind"),
]
_JOB: TypeAdapter[Job] = TypeAdapter(Job)


def thread_of(job: Job) -> str:
    """The thread a job changes (a launch names it after its Slack thread)."""
    if isinstance(job, Launch):
        return thread_id_for(job.origin)
    return job.thread_id


# KEYS: the stream, then dedupe keys. ARGV: job json, marker, dedupe ttl, maxlen.
# The stream has no TTL, only a MAXLEN: a TTL would delete the consumer group with it.
_ENQUEUE_ONCE = """
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2], 'EX', ARGV[3])
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'job', ARGV[1])
return 1
"""

# KEYS: retries zset, stream, attempts. ARGV: member ("<key> <json>"), due, entry id, ttl, group.
# Re-schedule and ack in one step: a crash between the two neither loses nor doubles the job.
_RETRY_LATER = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('XACK', KEYS[2], ARGV[5], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3])
return 1
"""

# KEYS: retries zset, stream. ARGV: now, batch size, maxlen. Members are "<key> <json>": the
# key keeps two equal jobs (two identical clicks) apart, and goes back into the stream with the
# job, so the job keeps its identity (`Taken.key`) however often its thread was busy.
_FIRE_RETRIES = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local space = string.find(member, ' ', 1, true)
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
             'job', string.sub(member, space + 1), 'key', string.sub(member, 1, space - 1))
end
return #due
"""

RETRY_BATCH = 100


class Taken(NamedTuple):
    """A job as a worker took it from the stream."""

    entry_id: str
    job: Job
    key: str
    """The job's identity across deliveries: the entry id it was first added with. A job whose
    thread was busy is added again under a new entry id and keeps its key, so the runtime
    recognises input it already applied (`Runtime.handle(job, key=...)`)."""


class JobQueue:
    def __init__(self, redis: Redis, *, consumer: str) -> None:
        self._redis = redis
        self.consumer = consumer
        self._enqueue_once: Any = redis.register_script(_ENQUEUE_ONCE)
        self._retry_later: Any = redis.register_script(_RETRY_LATER)
        self._fire_retries: Any = redis.register_script(_FIRE_RETRIES)

    async def setup(self) -> None:
        """Create the stream and consumer group if missing (idempotent). Also the way back
        from NOGROUP: a group recreated from id 0 takes every job still in the stream, which
        after a flush or a restart without persistence are only jobs nobody has seen."""
        try:
            await self._redis.xgroup_create(keys.jobs(), keys.JOBS_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        # Earlier versions set a TTL on both streams; a TTL deletes the group with the stream.
        await self._redis.persist(keys.jobs())
        await self._redis.persist(keys.dead_jobs())

    async def enqueue(self, job: Job, *, once: Sequence[str] = (), marker: str = "1") -> bool:
        """Add a job. With `once` (dedupe keys from `keys.seen`), only if none of them was
        seen before; marking them and adding the job is one atomic step. False if a duplicate."""
        added = await self._enqueue_once(
            keys=[keys.jobs(), *once],
            args=[job.model_dump_json(), marker, keys.SEEN_TTL, keys.JOBS_MAXLEN],
        )
        return bool(added)

    async def add(self, job: Job) -> str:
        """Add a job and return its key (the entry id it is added with), by which the runtime
        recognises it: the thread records the key with the input it applied, and a refusal is
        kept under it (`DeliveryLedger.refusal`)."""
        entry: Any = await self._redis.xadd(
            keys.jobs(), {"job": job.model_dump_json()}, maxlen=keys.JOBS_MAXLEN, approximate=True
        )
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    async def take(self, *, block_ms: int | None, count: int = 10) -> list[Taken]:
        """New jobs for this consumer; empty when none arrived within `block_ms`."""
        # RESP2 reply: [(stream, [(entry_id, {b"job": json}), ...])]
        reply: Any = await self._redis.xreadgroup(
            keys.JOBS_GROUP, self.consumer, {keys.jobs(): ">"}, count=count, block=block_ms
        )
        return await self._parse([entry for _stream, entries in reply or [] for entry in entries])

    async def reclaim(self, *, min_idle_ms: int, count: int = 10) -> list[Taken]:
        """Jobs another consumer took but has not touched for `min_idle_ms`: it died."""
        reply: Any = await self._redis.xautoclaim(
            keys.jobs(), keys.JOBS_GROUP, self.consumer, min_idle_ms, "0-0", count=count
        )
        return await self._parse([entry for entry in reply[1] if entry[1]])

    async def touch(self, entry_id: str) -> None:
        """Tell the group this job is still being worked on, so nobody reclaims it."""
        await self._redis.xclaim(
            keys.jobs(), keys.JOBS_GROUP, self.consumer, 0, [entry_id], justid=True
        )

    async def started(self, entry_id: str) -> int:
        """Count a start of the job; returns how many there were."""
        return int(await self._redis.hincrby(keys.job_attempts(), entry_id, 1))

    async def ack(self, entry_id: str) -> None:
        await self._redis.xack(keys.jobs(), keys.JOBS_GROUP, entry_id)
        await self._redis.hdel(keys.job_attempts(), entry_id)

    async def retry_later(self, taken: Taken, *, at: float) -> None:
        """Finish this delivery of the job and add it again at unix time `at` (its thread was
        busy), under its key. Jobs are idempotent, so running it once more is always safe."""
        await self._retry_later(
            keys=[keys.job_retries(), keys.jobs(), keys.job_attempts()],
            args=[
                f"{taken.key} {taken.job.model_dump_json()}",
                at,
                taken.entry_id,
                keys.RETRIES_TTL,
                keys.JOBS_GROUP,
            ],
        )

    async def fire_retries(self, now: float) -> int:
        """Move the re-scheduled jobs due by unix time `now` back into the stream."""
        fired = 0
        while True:
            moved = int(
                await self._fire_retries(
                    keys=[keys.job_retries(), keys.jobs()],
                    args=[now, RETRY_BATCH, keys.JOBS_MAXLEN],
                )
            )
            fired += moved
            if moved < RETRY_BATCH:
                return fired

    async def bury(self, entry_id: str, raw: str, reason: str) -> None:
        """Move a job that keeps failing to the dead-letter stream, out of everyone's way."""
        fields = {"job": raw, "entry": entry_id, "reason": reason[:500]}
        # Bounded by MAXLEN only, like the job stream.
        await self._redis.xadd(keys.dead_jobs(), fields, maxlen=keys.JOBS_MAXLEN)  # type: ignore[arg-type]
        await self.ack(entry_id)

    async def _parse(self, entries: list[Any]) -> list[Taken]:
        jobs: list[Taken] = []
        for raw_id, fields in entries:
            entry_id, raw = raw_id.decode(), fields.get(b"job", b"").decode()
            key = fields.get(b"key", raw_id).decode()
            try:
                jobs.append(Taken(entry_id, _JOB.validate_json(raw), key))
            except ValueError as exc:
                await self.bury(entry_id, raw, f"not a job: {exc}")
        return jobs
