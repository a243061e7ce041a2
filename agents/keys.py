"""Every Redis key and TTL, each key built by one small function. Keys of one thread share the
`{thread_id}` hash tag so an operation on a thread stays in one Redis Cluster slot."""

from __future__ import annotations

PREFIX = "hitl"

THREAD_TTL = 30 * 24 * 3600
"""A thread (and everything keyed by it) lives 30 days after its last save."""
JOBS_TTL = 7 * 24 * 3600
SIMULATED_TTL = 7 * 24 * 3600

JOBS_GROUP = "workers"
JOBS_MAXLEN = 100_000


def thread(thread_id: str) -> str:
    return f"{PREFIX}:thread:{{{thread_id}}}"


def request_message(thread_id: str, call_id: str) -> str:
    """Where the Slack message of a human request lives (channel, ts)."""
    return f"{PREFIX}:reqmsg:{{{thread_id}}}:{call_id}"


def jobs() -> str:
    return f"{PREFIX}:jobs"


def simulated_deploys() -> str:
    return f"{PREFIX}:sim:deploys"
