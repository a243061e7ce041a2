"""2. Pause→resume overhead of one approval cycle, model time excluded. The same two-step flow on
both sides: a mention; the model asks to deploy api 1.4.2 to production; it waits for approval
(state saved); approval comes in; the deploy runs (the same simulated adapter, on the same Redis);
the model says it is done. Per cycle: wall time of both halves minus the time spent inside the
model (a scripted one, timed on both sides). Context rendering, policy, validation, saves and
loads count as overhead on both sides.

- ours: `agents.runtime.handling.Runtime` as `build_services` wires it (policy, simulated adapters,
  deadlines, `ThreadStore` on a real redis-server), handling a `Launch` then a `Decide` job,
  but with a notifier that tells nobody: Slack's HTTP is left out, as LangGraph has none.
- LangGraph: an async `StateGraph` over `add_messages` (agent node → approval node calling
  `interrupt()` → deploy node → agent node), `AsyncSqliteSaver` on a file (its `setup()` puts
  the file in WAL mode), `ainvoke` then `ainvoke(Command(resume=...))`, a new thread per cycle.
- LangGraph with `InMemorySaver`, for reference: the same graph with nothing stored anywhere
  (`interrupt()` needs a checkpointer), i.e. the framework's own cost.

The sides alternate cycle by cycle (the order rotates each cycle, so none always runs first),
after a few warm-up cycles each. A run's figure per side is the median of its cycles; each
setting is measured in several runs, each on a fresh redis-server and SQLite file, and the
table shows the median run and the range (lowest to highest) of the runs. Two durability
settings, the same on both sides: **no sync** (Redis without persistence, SQLite
`synchronous=OFF`) and **sync on every write** (Redis `appendonly yes` + `appendfsync always`,
SQLite `synchronous=FULL`), the files on the machine's disk (ext4), not tmpfs.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from bench.common import Row, Spread, alternate, redis_url
from bench.resume_sides import langgraph, ours

TARGET = 10


@dataclass(frozen=True)
class Setting:
    """A durability setting, the same on both sides."""

    name: str
    redis_args: tuple[str, ...]
    appendfsync: str | None  # None: no append-only file
    synchronous: str  # SQLite's `PRAGMA synchronous`

    @property
    def described(self) -> str:
        redis = (
            "Redis no persistence"
            if self.appendfsync is None
            else f"Redis appendonly yes, appendfsync {self.appendfsync}"
        )
        return f"{redis}; SQLite WAL, synchronous={self.synchronous}"


NO_SYNC = Setting("no sync", ("--appendonly", "no"), None, "OFF")
SYNC = Setting(
    "sync on every write",
    ("--appendonly", "yes", "--appendfsync", "always"),
    "always",
    "FULL",
)
SETTINGS = (NO_SYNC, SYNC)


async def _check_redis(url: str, setting: Setting) -> None:
    """The redis-server ran with the setting the row names."""
    redis = Redis.from_url(url, decode_responses=True)
    try:
        config = await redis.config_get("append*")
    finally:
        await redis.aclose()
    assert config["appendonly"] == ("no" if setting.appendfsync is None else "yes"), config
    assert setting.appendfsync in (None, config["appendfsync"]), config


async def one_run(setting: Setting, *, cycles: int, warmup: int) -> dict[str, float]:
    """One run on a fresh redis-server and SQLite file: each side's median overhead (s)."""
    with redis_url(*setting.redis_args) as url, tempfile.TemporaryDirectory() as tmp:
        sqlite = Path(tmp) / "lg.sqlite"
        async with (
            ours(url) as our_cycle,
            langgraph(url, sqlite=sqlite, synchronous=setting.synchronous) as sqlite_cycle,
            langgraph(url, sqlite=None, synchronous="") as memory_cycle,
        ):
            sides = {"ours": our_cycle, "sqlite": sqlite_cycle, "memory": memory_cycle}
            samples = await alternate(sides, cycles=cycles, warmup=warmup)
        await _check_redis(url, setting)
    return {side: statistics.median(values) for side, values in samples.items()}


def _ratio(ours: Spread, baseline: Spread) -> str:
    """How many times less overhead ours has, run by run, with the range of the runs."""
    less = Spread(tuple(b / o for o, b in zip(ours.runs, baseline.runs, strict=True)))
    if less.mid >= 1:
        return less.cell("× less", 1)
    return Spread(tuple(1 / r for r in less.runs)).cell("× MORE", 1)


def _rows(setting: Setting, got: dict[str, list[float]], cycles: int) -> list[Row]:
    ms = {side: Spread(tuple(v * 1000 for v in values)) for side, values in got.items()}
    less = Spread(tuple(b / o for o, b in zip(ms["ours"].runs, ms["sqlite"].runs, strict=True)))
    runs = len(ms["ours"].runs)
    values = {side: list(spread.runs) for side, spread in ms.items()} | {"unit": "ms"}
    head = f"Pause→resume overhead, {setting.name} (median of {runs} runs × {cycles} cycles)"
    rows = [
        Row(
            figure=head,
            ours=ms["ours"].cell(),
            baseline=f"{ms['sqlite'].cell()} LangGraph + AsyncSqliteSaver",
            ratio=_ratio(ms["ours"], ms["sqlite"]),
            target=f"≥ {TARGET}× less",
            met=less.mid >= TARGET,
            note="model time excluded on both sides; ours without Slack HTTP; alternated "
            "cycle by cycle; see bench/resume.py",
            durability=setting.described,
            values=values,
        )
    ]
    if setting is NO_SYNC:
        rows.append(
            Row(
                figure=f"Pause→resume overhead vs LangGraph with no storage ({setting.name})",
                ours=ms["ours"].cell(),
                baseline=f"{ms['memory'].cell()} LangGraph + InMemorySaver",
                ratio=_ratio(ms["ours"], ms["memory"]),
                target="—",
                met=None,
                note="reference: LangGraph's own cost, nothing stored; measured in the same "
                "runs, alternated with the row above",
                durability=f"ours: {setting.described}; LangGraph: in memory",
                values=values,
            )
        )
    return rows


async def run(*, cycles: int, runs: int, warmup: int) -> list[Row]:
    """Both durability settings, `runs` runs each of `cycles` alternated cycles per side."""
    rows: list[Row] = []
    for setting in SETTINGS:
        got: dict[str, list[float]] = {"ours": [], "sqlite": [], "memory": []}
        for _ in range(runs):
            for side, seconds in (await one_run(setting, cycles=cycles, warmup=warmup)).items():
                got[side].append(seconds)
        rows += _rows(setting, got, cycles)
    return rows
