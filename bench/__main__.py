"""`python -m bench [--quick]`: run every benchmark, print the table, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import ack, fanout, resume, scale, storage, tokens, trace
from bench.common import Row

HEADER = ("figure", "ours", "baseline", "ratio", "target", "met?")


@dataclass(frozen=True)
class Sizes:
    threads: int
    real_threads: int
    resumes: int
    events: int
    rate: float
    cycles: int
    fanout: int


FULL = Sizes(
    threads=10_000,
    real_threads=1_000,
    resumes=1_000,
    events=2_000,
    rate=200,
    cycles=200,
    fanout=1_000,
)
QUICK = Sizes(threads=60, real_threads=40, resumes=10, events=100, rate=200, cycles=10, fanout=20)


def met(row: Row) -> str:
    return "—" if row.met is None else ("yes" if row.met else "NO")


def cells(row: Row) -> tuple[str, ...]:
    return (row.figure, row.ours, row.baseline, row.ratio, row.target, met(row))


def text_table(rows: Sequence[Row]) -> str:
    lines = [HEADER, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def markdown(rows: Sequence[Row], *, sizes: Sizes, seconds: float, quick: bool) -> str:
    table = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    table += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    notes = [f"- **{r.figure}**: {r.note}" for r in rows if r.note]
    machine = f"{platform.python_implementation()} {platform.python_version()}, "
    machine += f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}"
    return "\n".join(
        [
            "# Benchmarks",
            "",
            'Produced by `python -m bench` (after `pip install -e ".[bench]"`); see',
            "[How these are measured](#how-these-are-measured). Do not edit by hand.",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}, "
            f"{'QUICK sizes (smoke test, not results)' if quick else 'full sizes'}, "
            f"{seconds:.0f} s in all. Sizes: {sizes}.",
            "",
            *table,
            "",
            "## Notes per figure",
            "",
            *notes,
            "",
            "## Targets missed, and why",
            "",
            *MISSES,
            "",
            "## How these are measured",
            "",
            *METHOD,
        ]
    )


MISSES = [
    "As seen in the full runs of 2026-11-23 on a 2-core VM; rerun to check they still hold.",
    "",
    "- **Pause→resume overhead (target ≥ 5× less than LangGraph; measured about 1.1–1.5×).**",
    "  Our cycle is about 33 Redis commands on loopback (counted with `INFO commandstats`): every",
    "  step loads the thread (10 `HGET`s per cycle) and saves it with a compare-and-set script (5",
    "  `EVALSHA`s), plus request deadlines (`ZADD`, `ZREM`) and the simulated deploy's",
    "  idempotency record; each load and save also parses or dumps the whole thread with",
    "  pydantic. That is the price of any process being able to resume any thread safely.",
    "  LangGraph with a local SQLite file costs about as much per cycle (10–13 ms), so the 5×",
    "  target was not realistic against this baseline; it would take fewer round trips per step",
    "  (e.g. one script per step that checks, saves and schedules) to get much below it.",
    "- **Context tokens (target ≥ 50% fewer than chat messages; measured 33–37% fewer).** Our",
    "  trace drops the per-message JSON envelopes and call ids, but each event is still a tag",
    "  with a YAML body, and on the first step (one user message) ours is *larger* (44 vs 33",
    "  tokens). The saving grows with the number of tool results, not past about 40% on these",
    "  traces. Both sides are counted the same way (JSON of the `messages` array).",
    "- **Resumes/s scales poorly with workers on this machine (1.0–1.8× with 2 or 4).**",
    "  Not a target, but it should be read right: the two cores are shared by the workers, Redis,",
    "  and the Slack emulator (one Python process that answers every worker's 2–3 Web API calls",
    "  per resume). Runs differ a lot (1 worker: 52 to 93 resumes/s across five full runs).",
    "  We did not profile which part saturates first; the figure says nothing about",
    "  scaling on more cores.",
    "- **Ack latency p99** met the target in the last three full runs (1.44×, 1.36×, 1.04×): the",
    "  p99 of 2,000 requests is 20 requests: one stall of the host (a GC pause, another",
    "  process) moves it a lot. An earlier design with both apps and the sender in one",
    "  process showed 3.9× one run and 0.9× another; each app now runs in its own process,",
    "  as in production.",
]


METHOD = [
    "Everything runs on loopback on one machine, against a `redis-server` the benchmark starts",
    "(no persistence), the project's Slack emulator and the offline model. Each figure and its",
    "baseline are measured in the same run. Percentiles are nearest-rank.",
    "",
    f"### {ack.__doc__}",
    "",
    f"### {resume.__doc__}",
    "",
    f"### {storage.__doc__}",
    "",
    f"### {tokens.__doc__}",
    "",
    f"### {scale.__doc__}",
    "",
    f"### {fanout.__doc__}",
    "",
    "In the 2- and 4-worker rounds, the threads resumed are copies of threads the 1-worker round",
    "resumed, so their Slack messages (in the emulator) were already updated once; Redis state is",
    "their own.",
]


async def run_all(sizes: Sizes, *, quick: bool) -> list[Row]:
    """Every figure, in the issue's order (1 to 6), each with its baseline in the same run."""
    rows = await ack.run(events=sizes.events, rate=sizes.rate)
    rows += await resume.run(cycles=sizes.cycles)
    ten_steps, stored = await trace.ten_step_thread()
    rows += await storage.run(ten_steps, stored, make_sdk_venv=not quick)
    _, finished = await trace.deploy_thread()
    rows += tokens.run(finished, name="deploy with a question")
    rows += tokens.run(ten_steps, name="10-step")
    rows += await scale.run(threads=sizes.threads, real=sizes.real_threads, resumes=sizes.resumes)
    rows += await fanout.run(threads=sizes.fanout, repeats=1 if quick else 3)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    rows = asyncio.run(run_all(sizes, quick=args.quick))
    seconds = time.perf_counter() - started
    print(text_table(rows))
    print(f"\n{seconds:.0f} s; written to {args.out}")
    args.out.write_text(markdown(rows, sizes=sizes, seconds=seconds, quick=args.quick) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
