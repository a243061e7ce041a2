"""Every Redis key and TTL, each key built by one small function. Keys of one thread share the
`{thread_id}` hash tag so an operation on a thread stays in one Redis Cluster slot."""

from __future__ import annotations

PREFIX = "hitl"

THREAD_TTL = 30 * 24 * 3600
"""A thread (and everything keyed by it) lives 30 days after its last save."""
JOBS_TTL = 7 * 24 * 3600
SIMULATED_TTL = 7 * 24 * 3600
SEEN_TTL = 24 * 3600
"""Slack retries within minutes; a day of dedupe keys is plenty."""
GROUP_TTL = 300
"""User-group members are cached this long."""

JOBS_GROUP = "workers"
JOBS_MAXLEN = 100_000


def thread(thread_id: str) -> str:
    return f"{PREFIX}:thread:{{{thread_id}}}"


def lease(thread_id: str) -> str:
    """Held by the one worker advancing the thread; expires by itself (PX)."""
    return f"{PREFIX}:lease:{{{thread_id}}}"


def deliveries(thread_id: str) -> str:
    """What the outbox did for each delivery of the thread: delivery id -> record (posted ts,
    attempts). Read before every Slack call, so a retry never posts twice."""
    return f"{PREFIX}:delivery:{{{thread_id}}}"


def jobs() -> str:
    return f"{PREFIX}:{{jobs}}"


def deadlines() -> str:
    """Due jobs (deadlines, reminders) by time; same slot as the stream they move into."""
    return f"{PREFIX}:{{jobs}}:deadlines"


def dead_jobs() -> str:
    """Jobs that failed too often, kept for a person to look at."""
    return f"{PREFIX}:{{jobs}}:dead"


def job_attempts() -> str:
    """Entry id -> how many times a job was started."""
    return f"{PREFIX}:{{jobs}}:attempts"


def seen(kind: str, key: str) -> str:
    """Marks a Slack delivery (event id, or channel+ts of a message) as taken in; in the job
    stream's slot, since it is set in the same atomic step as the enqueue."""
    return f"{PREFIX}:{{jobs}}:seen:{kind}:{key}"


def reconciling() -> str:
    """Held by the worker running the reconciler's pass, so one pass runs at a time."""
    return f"{PREFIX}:{{jobs}}:reconciling"


def stuck_count() -> str:
    """How many stuck threads the last reconciler pass found (the `hitl_stuck_threads` gauge)."""
    return f"{PREFIX}:{{jobs}}:stuck"


def group_members(group_id: str) -> str:
    return f"{PREFIX}:group:{group_id}"


def simulated(records: str) -> str:
    """What a tool family's simulated adapter records (`deploys`, `access`, `incidents`, ...)."""
    return f"{PREFIX}:sim:{records}"


RETRIES_TTL = 24 * 3600
"""Re-scheduled jobs are due within seconds; the set outlives any of them by far."""


def job_retries() -> str:
    """Jobs whose thread was busy, by the time they run again (members: entry id, job json);
    same slot as the stream they move back into."""
    return f"{PREFIX}:{{jobs}}:retries"


FORM_TTL = 24 * 3600
"""A modal the bot opened can be submitted for a day; later, the person opens it again."""


def opened_form(external_id: str) -> str:
    """What the bot opened a modal for (the request, the person, which form), by the
    `external_id` it gave the view: a submission counts only for a view recorded here."""
    return f"{PREFIX}:form:{external_id}"
