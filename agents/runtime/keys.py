"""Every Redis key and TTL, each key built by one small function. Keys of one thread share the
`{thread_id}` hash tag so an operation on a thread stays in one Redis Cluster slot."""

from __future__ import annotations

import hashlib

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


REFUSAL_TTL = 3600
"""A job's refusal is kept this long for whoever queued it (`hitl threads respond` waits)."""


def refusal(thread_id: str, job_key: str) -> str:
    """Why job `job_key` (its stream entry id) was refused: the Tell shown to its person."""
    return f"{PREFIX}:refusal:{{{thread_id}}}:{job_key}"


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


# The audit log is one chain, so its keys share the `{audit}` hash tag: on a Redis Cluster the
# whole log lives in one slot, by design (an append must compare-and-set the chain head, and
# the log is written once per saved event, far below what one node serves).
AUDIT_RETENTION_DAYS = 400
"""Audit entries are kept at least this long (HITL_AUDIT_RETENTION_DAYS); older ones are trimmed."""


def audit() -> str:
    """The audit stream: one hash-chained entry per audited thread event."""
    return f"{PREFIX}:{{audit}}"


def audit_head() -> str:
    """`seq hash` of the newest audit entry: an append compares-and-sets it."""
    return f"{PREFIX}:{{audit}}:head"


def audit_anchor() -> str:
    """Where the chain starts after a trim: the hash, seq and time of the last trimmed entry."""
    return f"{PREFIX}:{{audit}}:anchor"


def audit_cursor(thread_id: str) -> str:
    """How many of a thread's events were looked at for the audit log (`created n`), so a
    retried or repeated save never appends an event twice. In the audit slot, not the
    thread's, because it is set in the same atomic step as the append."""
    return f"{PREFIX}:{{audit}}:cursor:{thread_id}"


# The approvals inbox (App Home). The index is derived from the outbox: the notifier adds a
# request when its card is delivered and drops it when its settling event is, so it can only
# lag the threads (a Home view re-checks each thread before listing it), never lose one.
REQUESTS_TTL = THREAD_TTL
RECENT_REQUESTS = 200
"""How many recent requests (open or settled) "Your requests" and "Recent decisions" read."""
HOME_VIEW_TTL = THREAD_TTL


def open_requests() -> str:
    """Sorted set of open approval requests (`thread_id call_id`) by deadline."""
    return f"{PREFIX}:requests:open"


def recent_requests() -> str:
    """Sorted set of the newest approval requests (`thread_id call_id`) by when they were asked,
    trimmed to RECENT_REQUESTS."""
    return f"{PREFIX}:requests:recent"


def home_view(user: str) -> str:
    """The Home view the bot last published for `user`: its view id and the requests it shows,
    so a Home click counts only on a view the bot published for that person."""
    return f"{PREFIX}:home:{user}"


# The human-contact requests API (bot/requests_api.py) and its decision webhooks.
API_REQUEST_TTL = THREAD_TTL
"""An idempotency key names its request as long as the request's thread is kept."""


def api_request(idempotency_key: str) -> str:
    """String: the id of the request made with `idempotency_key` (hashed: any text is a key)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{PREFIX}:api-request:{digest}"


def callback(thread_id: str) -> str:
    """Hash: the decision webhook of request `thread_id`: `attempts`, and `state` (`sent` or
    `failed`) once it is settled for good. Next to the thread (hash tag), with its TTL."""
    return f"{PREFIX}:callback:{{{thread_id}}}"
