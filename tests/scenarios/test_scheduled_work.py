"""Scheduled work is never lost: a grant's revocation, a request's reminder and expiry keep their
thread, the deadline set and the grant record until they have run, however far ahead they are
planned. Real redis-server; the replay compresses a month into seconds by shrinking the TTLs
and driving the workers' clock."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis

from agents.models.offline import OfflineModel
from agents.runtime import keys
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import Error, ToolResult, utcnow
from agents.runtime.handling import Runtime
from agents.runtime.lease import Leases
from agents.runtime.loop import StepDeps
from agents.runtime.metrics import Metrics
from agents.runtime.outbox import DeliveryLedger, Outbox
from agents.runtime.routing import Router
from agents.runtime.store import ThreadStore
from agents.runtime.thread import SlackOrigin, Thread
from agents.runtime.worker import Worker
from bot.adapters import simulated_store
from bot.agent_loading import BUILT_IN, load_agents
from bot.emulator.server import SlackEmulator
from bot.services import policy_for
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from tests.conftest import CAROL, DEPLOYS, BotProcess, MakeBot
from tests.support import DANA, OWNERS, approval_message, load_thread, mention
from tools.access import ACCESS_TOOLS, GrantAccess, SimulatedAccess

AGENTS = load_agents(BUILT_IN)

DAY = 24 * 3600
REVOKE = {"intent": "revoke_access", "user": DANA, "resource": "billing-db", "reason": "expired"}


async def new_thread(redis: Redis, thread_id: str = "tscheduled") -> Thread:
    thread = Thread(
        id=thread_id,
        agent="access",
        requester="U0ALICE",
        origin=SlackOrigin(channel=DEPLOYS, thread_ts="1700000000.000100"),
    )
    assert await ThreadStore(redis).create(thread)
    return thread


async def test_a_revocation_keeps_its_thread_until_it_is_due(redis: Redis) -> None:
    thread = await new_thread(redis)
    at = utcnow() + timedelta(days=30)
    await Deadlines(redis).schedule_call(thread.id, REVOKE, at=at)
    # A save afterwards (the agent reporting the grant) does not shorten it again.
    loaded = await ThreadStore(redis).load(thread.id)
    assert loaded is not None
    await ThreadStore(redis).save(loaded)
    assert await redis.ttl(keys.thread(thread.id)) >= 31 * DAY - 60


async def test_the_deadline_set_outlives_its_last_member_whatever_the_order(redis: Redis) -> None:
    thread = await new_thread(redis)
    deadlines = Deadlines(redis)
    now = utcnow()
    await deadlines.schedule_call(thread.id, REVOKE, at=now + timedelta(days=45))
    soon = now + timedelta(hours=1)
    await deadlines.schedule_call(thread.id, REVOKE | {"user": "U0EVE"}, at=soon)
    assert await redis.ttl(keys.deadlines()) >= (45 * DAY + keys.JOBS_TTL) - 60

    # A set left without a TTL (by an older version) gets one that covers its last member.
    await redis.persist(keys.deadlines())
    await redis.zadd(keys.deadlines(), {"a far member": (now + timedelta(days=60)).timestamp()})
    await deadlines.schedule_call(thread.id, REVOKE | {"user": "U0MO"}, at=now)
    assert await redis.ttl(keys.deadlines()) >= (60 * DAY + keys.JOBS_TTL) - 60


async def test_jobs_moved_into_the_stream_never_give_it_a_ttl(redis: Redis) -> None:
    # A TTL on the stream would delete its consumer group after a quiet week.
    thread = await new_thread(redis)
    deadlines = Deadlines(redis)
    await deadlines.schedule_call(thread.id, REVOKE, at=utcnow())
    assert await deadlines.fire_due(utcnow()) == 1
    assert await redis.ttl(keys.jobs()) == -1


async def test_a_simulated_grant_outlives_later_shorter_grants(redis: Redis) -> None:
    access = SimulatedAccess(simulated_store(redis, ACCESS_TOOLS))
    grant = GrantAccess(
        user=DANA, resource="billing-db", level="read", duration_hours=720, justification="audit"
    )
    await access.grant(grant, expires_at=utcnow() + timedelta(days=30), idempotency_key="t:1")
    short = grant.model_copy(update={"duration_hours": 1})
    await access.grant(short, expires_at=utcnow() + timedelta(hours=1), idempotency_key="t:2")
    assert await redis.ttl(keys.simulated("access")) >= 30 * DAY + keys.SIMULATED_TTL - 60


# The replay: 30 days of grants and revocations in a few seconds of real time.
HOURS = [1, 5, 12, 24, 25, 36, 48, 71, 96, 120, 167, 168, 240, 300, 360, 480, 600, 700, 719, 720]
COMPRESSION = 30 * DAY // 2
"""Simulated seconds per real second: the 30-day thread TTL becomes 2 s of Redis time."""
TICK = timedelta(hours=12)


class SimulatedClock:
    """The time the workers see: it runs `COMPRESSION` times faster than Redis time, so a
    thread's (compressed) TTL and the grants' lengths stay in proportion."""

    def __init__(self) -> None:
        self.start = utcnow()
        self._started = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._started) * COMPRESSION)


def worker_at(bot: BotProcess, clock: SimulatedClock) -> Worker:
    """A worker of `bot`'s queue and Redis whose every part reads time from `clock`."""
    services, settings = bot.services, bot.services.settings
    assert services.adapters is not None
    deadlines = Deadlines(services.redis)
    deps = StepDeps(
        model=OfflineModel(AGENTS),
        adapters=services.adapters.tools,
        policy=policy_for(settings, AGENTS),
        clock=clock,
        scheduler=deadlines,
    )
    ledger, metrics = DeliveryLedger(services.redis), Metrics()
    notifier = SlackNotifier(
        services.client, ledger, escalation_channel=settings.hitl_escalation_channel
    )
    runtime = Runtime(
        store=services.store,
        agents=AGENTS,
        deps=deps,
        outbox=Outbox(
            store=services.store,
            ledger=ledger,
            notifier=notifier,
            deadlines=deadlines,
            metrics=metrics,
        ),
        directory=SlackDirectory(services.client, services.redis),
        deadlines=deadlines,
        metrics=metrics,
        router=Router(AGENTS, model=None),
    )
    leases = Leases(services.redis, ttl_ms=settings.hitl_lease_ms)
    return Worker(
        queue=services.queue, runtime=runtime, deadlines=deadlines, leases=leases, clock=clock
    )


def compress(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, seconds in {
        "THREAD_TTL": 30 * DAY,
        "JOBS_TTL": 7 * DAY,
        "SIMULATED_TTL": 7 * DAY,
        "SEEN_TTL": DAY,
    }.items():
        monkeypatch.setattr(keys, name, max(1, round(seconds / COMPRESSION)))


async def work_and_check(worker: Worker, clock: SimulatedClock, redis: Redis) -> None:
    """Run the worker until no job is left; then every grant that expired before it started is
    revoked, and none that expires after it ended."""
    before = clock()
    await worker.run(burst=True)
    after = clock()
    for grant in await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants():
        expires_at = datetime.fromisoformat(grant["expires_at"])
        if expires_at <= before:
            assert grant["status"] == "revoked", (before, grant)
        elif expires_at > after:
            assert grant["status"] == "active", (after, grant)


async def test_every_grant_of_a_month_is_revoked_once_on_time(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    compress(monkeypatch)
    bot = await make_bot(hitl_resource_owners=OWNERS, hitl_approval_timeout=30 * DAY)
    clock = SimulatedClock()
    worker = worker_at(bot, clock)

    # Grants are asked for and approved over the weeks the setup takes in simulated time.
    roots = []
    for hours in HOURS:
        text = f"give <@{DANA}> read access to billing-db for {hours} hours because audit"
        roots.append(await mention(slack, text))
        await work_and_check(worker, clock, redis)
        approval = approval_message(slack, DEPLOYS, roots[-1])
        await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
        await work_and_check(worker, clock, redis)
    grants = await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants()
    assert len(grants) == len(HOURS)

    last = max(datetime.fromisoformat(g["expires_at"]) for g in grants)
    while clock() < last + TICK:
        await asyncio.sleep(TICK.total_seconds() / COMPRESSION)
        await work_and_check(worker, clock, redis)

    for root in roots:
        thread = await load_thread(redis, root)
        revocations = [
            e for e in thread.events if isinstance(e, ToolResult) and e.intent == "revoke_access"
        ]
        assert len(revocations) == 1, root
        assert not [e for e in thread.events if isinstance(e, Error)], root
    assert await redis.zcard(keys.deadlines()) == 0
    assert await redis.xlen(keys.dead_jobs()) == 0
