"""Shared pieces: a redis-server of our own, the Slack emulator, bot processes from settings,
and the result row every benchmark returns."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.runtime.types import Model
from bot.emulator.server import SlackEmulator
from bot.services import Services, build_services
from bot.settings import Settings
from tests.redis_servers import redis_process

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-sandbox"
ALICE, BOB = "U0ALICE", "U0BOB"
DEPLOYS = "C0DEPLOYS"


@dataclass(frozen=True)
class Row:
    """One line of the results table. `higher_is_better` decides how `met` reads the ratio."""

    figure: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: bool | None  # None: no target for this row
    note: str = ""
    durability: str = ""
    """What was synced to disk on each side while it was timed; empty: not a timed figure."""
    values: dict[str, Any] = field(default_factory=dict)
    """The raw numbers behind the cells (per-run figures and their units), for `--json`."""


NO_PERSISTENCE = ("--appendonly", "no")


@contextmanager
def redis_url(*args: str) -> Iterator[str]:
    """A fresh redis-server on a free loopback port, its files in a temporary directory on
    disk; no persistence unless `args` (redis-server options) ask for it."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_process(Path(tmp), *(args or NO_PERSISTENCE)) as port,
    ):
        yield f"redis://127.0.0.1:{port}/0"


@asynccontextmanager
async def emulator() -> AsyncIterator[SlackEmulator]:
    slack = SlackEmulator(signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN)
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()


def services(
    url: str, slack_api_url: str, *, model: Model | None = None, **overrides: Any
) -> Services:
    """A bot process's parts, built the way `hitl serve` builds them (offline model unless
    `model` is given)."""
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack_api_url,
        redis_url=url,
        hitl_approvers=frozenset({BOB}),
        **overrides,
    )
    return build_services(settings, model=model)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, p in [0, 100]."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class Spread:
    """One figure measured in several runs: the median of the runs and their range."""

    runs: tuple[float, ...]

    @property
    def mid(self) -> float:
        return statistics.median(self.runs)

    def cell(self, unit: str = " ms", digits: int = 2) -> str:
        """`1.23 ms (1.10-1.40)`, en dash: the median run, then the lowest and highest run."""
        lo, hi = min(self.runs), max(self.runs)
        return f"{self.mid:.{digits}f}{unit} ({lo:.{digits}f}–{hi:.{digits}f})"


async def alternate(
    sides: Mapping[str, Callable[[int], Awaitable[float]]], *, cycles: int, warmup: int
) -> dict[str, list[float]]:
    """Run the sides' cycles in turn, one cycle each per round, rotating which goes first, so
    a slow moment of the host falls on every side alike; `warmup` rounds are not kept. Each
    cycle gets a number of its own (its thread's). Returns each side's timings."""
    names = list(sides)
    got: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + cycles):
        turn = names[i % len(names) :] + names[: i % len(names)]
        for name in turn:
            seconds = await sides[name](i)
            if i >= warmup:
                got[name].append(seconds)
    return got
