"""Shared pieces: a redis-server of our own, the Slack emulator, bot processes from settings,
and the result row every benchmark returns."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
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


@contextmanager
def redis_url() -> Iterator[str]:
    """A fresh redis-server (no persistence) on a free loopback port."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        redis_process(Path(tmp), "--appendonly", "no") as port,
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
