"""kill -9 at random moments: approval cycles run through real `hitl worker` processes while a
killer SIGKILLs one of them a fraction of a second after a person acts (when steps are being
taken) and starts a replacement. Every run must still
end, deploy exactly once, and show its card and its result exactly once.

The seed is printed (and reported as `seed`); rerun one trial with CHAOS_SEED=<seed>."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.store import thread_id_for
from agents.runtime.thread import SlackOrigin
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, DEPLOYS, MakeBot
from tests.reliability.chaos import (
    BOT_FAST,
    Cycles,
    WorkerPool,
    assert_clean,
    card_shown,
    cycle_request,
    open_card,
    wait_until,
    workers,
)
from tests.reliability.support import Tally
from tests.support import mention

RUNS = 60
MAX_RUNS = 100
MIN_KILLS = 30
"""Cycles run until at least this many workers were killed (more than RUNS if need be)."""
AT_ONCE = 6
"""Cycles in progress at once: enough that every kill lands in the middle of several."""
CARD_WAIT = 20.0
"""How long a person waits for a card before giving up on it (the run then counts as stuck)."""
KILL_CHANCE = 0.9
MIN_GAP = 0.1
"""Seconds between kills at least: a replacement needs about a second to start."""
CHAOS_SECONDS = 30.0
"""After the last click: how long every run gets to show its result."""


class Killer:
    """SIGKILLs a worker a random fraction of a second after a person acts (a mention, a
    click): preferably the one holding that thread's lease, i.e. in the middle of its step,
    else any. Every kill is followed at once by a replacement, so the pool never shrinks."""

    def __init__(self, pool: WorkerPool, redis: Redis, rng: random.Random) -> None:
        self._pool = pool
        self._redis = redis
        self._rng = rng
        self._last = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopped = False
        self.mid_step = 0

    def poke(self, root: str) -> None:
        """A person just did something in thread `root`: maybe kill a worker soon."""
        now = asyncio.get_running_loop().time()
        if self.stopped or now - self._last < MIN_GAP or self._rng.random() > KILL_CHANCE:
            return
        self._last = now
        task = asyncio.create_task(self._kill_after(root, self._rng.uniform(0.0, 0.4)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _kill_after(self, root: str, delay: float) -> None:
        await asyncio.sleep(delay)
        victim = await self._holder(root)
        alive = self._pool.alive()
        if self.stopped or not alive:
            return
        self.mid_step += victim is not None
        await self._pool.kill(victim or self._rng.choice(alive))
        await self._pool.start()

    async def _holder(self, root: str) -> asyncio.subprocess.Process | None:
        """The worker holding the thread's lease: its owner is "<host>-<pid>-<tag>/<entry>"."""
        thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
        owner = await self._redis.get(keys.lease(thread_id))
        if owner is None:
            return None
        consumer = (owner.decode() if isinstance(owner, bytes) else owner).partition("/")[0]
        pid = consumer.rsplit("-", 2)[-2] if consumer.count("-") >= 2 else ""
        return next((p for p in self._pool.alive() if str(p.pid) == pid), None)

    async def stop(self) -> None:
        self.stopped = True
        await asyncio.gather(*self._tasks)


async def approve_when_shown(slack: SlackEmulator, cycles: Cycles, n: int, killer: Killer) -> None:
    root = await mention(slack, cycle_request(n))
    cycles.roots[n] = root
    killer.poke(root)
    if await wait_until(card_shown(slack, root), seconds=CARD_WAIT):
        card = open_card(slack, root)
        assert card is not None
        response = await slack.click(user=BOB, message=card, action_id="hitl_approve")
        assert response.status_code == 200
        killer.poke(root)


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_kill_9_at_random_moments_of_60_approval_cycles_strands_and_repeats_nothing(
    slack: SlackEmulator,
    make_bot: MakeBot,
    redis: Redis,
    redis_server: str,
    tmp_path: Path,
    tally: Tally,
) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(2**31))
    print(f"\nCHAOS_SEED={seed}")
    rng = random.Random(seed)
    # The in-process bot only serves Slack's HTTP requests; the subprocesses do all the work.
    await make_bot(**BOT_FAST)
    cycles = Cycles()
    async with workers(
        slack, redis_server, tmp_path / "logs", 3, HITL_SIMULATED_DEPLOY_SECONDS="0.2"
    ) as pool:
        killer = Killer(pool, redis, rng)
        gate = asyncio.Semaphore(AT_ONCE)

        async def cycle(n: int) -> None:
            async with gate:
                await approve_when_shown(slack, cycles, n, killer)

        await asyncio.gather(*(cycle(n) for n in range(RUNS)))
        started = RUNS
        while pool.killed < MIN_KILLS and started < MAX_RUNS:  # until enough trials happened
            await asyncio.gather(*(cycle(n) for n in range(started, started + AT_ONCE)))
            started += AT_ONCE
        await killer.stop()
        await wait_until(lambda: cycles.done(slack), seconds=CHAOS_SECONDS)
        await asyncio.sleep(1.0)  # a late duplicate (a retried post, a second deploy) shows now
        await cycles.audit(slack, redis, tally)
        tally.update(
            seed=seed,
            workers_killed=pool.killed,
            killed_mid_step=killer.mid_step,
            workers_started=pool.started,
        )

    assert pool.killed >= MIN_KILLS, tally.line()  # the kill -9 trials really happened
    assert_clean(tally)
