"""Shared pieces of the chaos suites: approval cycles ("deploy svcN 1.4.2 to production",
approved by BOB), `hitl worker` subprocesses that can be killed and replaced, and the audit
that turns what Slack shows and Redis holds into the counts every chaos test reports.

The audit reads only what a person could see (the emulator's messages) and what the thread
says (Redis), so it judges the outcome, not the way the code got there.

It stays beside the chaos tests rather than in tests/support.py: it is a harness (worker
subprocesses, kill schedules, dedicated Redis servers) that only they use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from agents.runtime.audit import AuditLog, is_audited
from agents.runtime.events import Error
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status, Thread
from bot.emulator.server import Message, SlackEmulator
from bot.serving import free_port
from tests.conftest import BOB, DEPLOYS, BotProcess
from tests.redis_servers import redis_process
from tests.reliability.support import Tally, deployed, duplicates
from tests.support import bot_replies, has_buttons, mention, worker_env

CARD_PREFIX = ("Approval needed:", "✅ Approved:", "❌ Rejected:", "⏰ Expired", "⏹ Cancelled:")
"""The fallback texts of an approval card, open or settled (bot/slack/messages.py)."""

FAST = {
    "HITL_LEASE_MS": "1000",
    "HITL_JOB_CLAIM_MS": "1500",
    "HITL_RECONCILE_SECONDS": "0.5",
    "HITL_SLACK_TIMEOUT": "2",
}
"""Worker settings for chaos: a dead worker's lease and jobs are taken over within ~1.5 s, and
its claim on a Slack post within ~3 s (the Slack timeout, plus 1 s)."""
BOT_FAST = {name.lower(): value for name, value in FAST.items()}
"""The same settings for the in-process bot (`make_bot`), which serves Slack's HTTP side."""


# One service per cycle, at a version the (simulated) deployer lists: the agent checks that a
# production version exists before it asks anyone to approve it.


def cycle_request(n: int) -> str:
    return f"deploy svc{n} 1.4.2 to production"


def cycle_result(n: int) -> str:
    return f"Deployed svc{n} 1.4.2 to production"


def cycle_deploy(n: int) -> tuple[str, str, str]:
    return (f"svc{n}", "1.4.2", "production")


def cards(slack: SlackEmulator, root: str) -> list[Message]:
    """Approval cards the bot posted in the thread (decided ones included)."""
    return [m for m in bot_replies(slack, DEPLOYS, root) if m.text.startswith(CARD_PREFIX)]


def open_card(slack: SlackEmulator, root: str) -> Message | None:
    """The approval card, while it still has its buttons."""
    return next((m for m in cards(slack, root) if has_buttons(m)), None)


def card_shown(slack: SlackEmulator, root: str) -> Callable[[], bool]:
    return lambda: open_card(slack, root) is not None


def results(slack: SlackEmulator, root: str, n: int) -> list[Message]:
    return [m for m in bot_replies(slack, DEPLOYS, root) if cycle_result(n) in m.text]


def repeated_texts(slack: SlackEmulator, root: str) -> int:
    """Bot messages in the thread whose text an earlier bot message already had."""
    return duplicates([m.text for m in bot_replies(slack, DEPLOYS, root)])


async def thread_of_root(redis: Redis, root: str) -> Thread | None:
    return await ThreadStore(redis).load(
        thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    )


def delivery_errors(thread: Thread) -> list[Error]:
    return [e for e in thread.events if isinstance(e, Error) and e.scope == "delivery"]


@dataclass
class Cycles:
    """Approval cycles: cycle n lives in the Slack thread `roots[n]`."""

    roots: dict[int, str] = field(default_factory=dict)

    async def audit(self, slack: SlackEmulator, redis: Redis, tally: Tally) -> None:
        """Fill the standard counts; the caller asserts on them."""
        rows = await deployed(redis)
        wanted = {cycle_deploy(n) for n in self.roots}
        threads = {n: await thread_of_root(redis, root) for n, root in self.roots.items()}
        done = {n for n, t in threads.items() if t is not None and t.status is Status.DONE}
        tally.update(
            runs=len(self.roots),
            runs_done=len(done),
            side_effects=len(rows),
            duplicate_side_effects=duplicates(rows),
            approvals_visible=sum(len(cards(slack, r)) == 1 for r in self.roots.values()),
            approval_cards=sum(len(cards(slack, r)) for r in self.roots.values()),
            # A settled card that still shows its buttons tells people the run still waits.
            stale_cards=sum(open_card(slack, self.roots[n]) is not None for n in done),
            results_visible=sum(len(results(slack, r, n)) == 1 for n, r in self.roots.items()),
            result_messages=sum(len(results(slack, r, n)) for n, r in self.roots.items()),
            duplicate_messages=sum(repeated_texts(slack, r) for r in self.roots.values()),
            stuck_runs=sum(t is not None for t in threads.values()) - len(done),
            lost=sum(t is None for t in threads.values()),  # the request left no thread at all
        )
        tally.update(stray_side_effects=len(set(rows) - wanted))
        tally.update(await audit_gaps(redis, [t for t in threads.values() if t is not None]))
        # Where the stuck runs stopped, e.g. stuck_waiting_approval=3: the report says why.
        tally.update(
            f"stuck_{t.status}" for t in threads.values() if t and t.status is not Status.DONE
        )

    async def launch(self, slack: SlackEmulator, ns: Iterable[int]) -> None:
        """Alice asks for cycle n (`cycle_request`), for each n."""
        for n in ns:
            self.roots[n] = await mention(slack, cycle_request(n))

    async def approve(self, slack: SlackEmulator, ns: Iterable[int], *, seconds: float) -> None:
        """Bob approves cycles `ns`, each as soon as its card shows. Cards that have not shown
        `seconds` from now are left alone: the audit counts those runs as stuck."""
        deadline = asyncio.get_running_loop().time() + seconds
        for n in ns:
            left = max(0.0, deadline - asyncio.get_running_loop().time())
            if await wait_until(card_shown(slack, self.roots[n]), seconds=left):
                card = open_card(slack, self.roots[n])
                assert card is not None
                response = await slack.click(user=BOB, message=card, action_id="hitl_approve")
                assert response.status_code == 200

    def done(self, slack: SlackEmulator) -> bool:
        """Every cycle shows its result (cheap: Slack only, no Redis)."""
        return all(results(slack, r, n) for n, r in self.roots.items())


async def audit_gaps(redis: Redis, threads: list[Thread]) -> dict[str, int]:
    """Audited events of `threads` missing from the audit log, or in it more than once."""
    ids = {t.id for t in threads}
    entries = [entry async for entry in AuditLog(redis).entries()]
    logged = Counter((e["thread_id"], e["index"]) for e in entries if e["thread_id"] in ids)
    wanted = {(t.id, i) for t in threads for i, e in enumerate(t.events) if is_audited(e)}
    return {
        "audit_missing": len(wanted - set(logged)),
        "audit_duplicates": sum(n - 1 for n in logged.values()),
    }


def assert_clean(tally: Tally) -> None:
    """The zeros and equalities every chaos test promises."""
    runs = tally["runs"]
    assert tally["runs_done"] == runs, tally.line()
    assert tally["side_effects"] == runs and tally["duplicate_side_effects"] == 0, tally.line()
    assert tally["approvals_visible"] == runs == tally["approval_cards"], tally.line()
    assert tally["results_visible"] == runs == tally["result_messages"], tally.line()
    assert tally["duplicate_messages"] == 0 and tally["stale_cards"] == 0, tally.line()
    assert tally["stuck_runs"] == 0 and tally["lost"] == 0, tally.line()
    assert tally["stray_side_effects"] == 0, tally.line()
    assert tally["audit_missing"] == 0 and tally["audit_duplicates"] == 0, tally.line()


class WorkerPool:
    """`hitl worker` subprocesses sharing one Redis and the emulator; killable, replaceable.
    Each one logs to its own file under `logs` (read them when a chaos test fails)."""

    def __init__(self, slack: SlackEmulator, redis_url: str, logs: Path, **settings: str) -> None:
        self.env = worker_env(slack, redis_url, **(FAST | settings))
        self.logs = logs
        self.procs: list[asyncio.subprocess.Process] = []
        self.started = 0
        self.killed = 0

    async def start(self) -> asyncio.subprocess.Process:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"worker-{self.started}.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "worker", env=self.env, stderr=log
            )
        self.started += 1
        self.procs.append(proc)
        return proc

    def alive(self) -> list[asyncio.subprocess.Process]:
        return [p for p in self.procs if p.returncode is None]

    async def kill(self, proc: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        self.killed += 1

    async def close(self) -> None:
        for proc in self.alive():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
            await proc.wait()


@contextlib.asynccontextmanager
async def workers(
    slack: SlackEmulator, redis_url: str, logs: Path, count: int, **settings: str
) -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(slack, redis_url, logs, **settings)
    try:
        for _ in range(count):
            await pool.start()
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def in_process_worker(bot: BotProcess) -> AsyncIterator[asyncio.Task[int]]:
    """The bot's own worker running (not burst: retries and the reconciler need time)."""
    task = asyncio.create_task(bot.services.worker.run())
    try:
        yield task
    finally:
        bot.services.worker.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=15)


async def wait_until(
    predicate: Callable[[], bool | Awaitable[bool]], *, seconds: float, every: float = 0.05
) -> bool:
    """Poll an async or plain predicate until true or `seconds` pass; returns the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result or loop.time() >= deadline:
            return bool(result)
        await asyncio.sleep(every)


class DedicatedRedis:
    """A redis-server of one test, persisting every write to its AOF, that the test can kill
    (SIGKILL: only the AOF survives), stop and start again on the same port."""

    ARGS = ("--appendonly", "yes", "--appendfsync", "always")

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self._running: contextlib.ExitStack | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self._running is None, "already running"
        stack = contextlib.ExitStack()
        stack.enter_context(redis_process(self.workdir, *self.ARGS, port=self.port))
        self._running = stack

    def kill(self) -> None:
        """SIGKILL: no shutdown save, so what comes back is what the AOF had."""
        client = SyncRedis(port=self.port)
        try:
            pid = int(client.info("server")["process_id"])
        finally:
            client.close()
        os.kill(pid, signal.SIGKILL)
        self.stop()

    def stop(self) -> None:
        if self._running is not None:
            self._running.close()
            self._running = None
