"""`python -m bench [--quick] [--json FILE]`: run every benchmark, print the table, write
docs/benchmarks.md (and the same figures as JSON)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import ack, context_cost, fanout, resume, scale, storage, tokens, trace
from bench.common import Row

BENCHMARKS = ("ack", "resume", "context", "storage", "tokens", "scale", "fanout")
HEADER = ("figure", "durability", "ours", "baseline", "ratio", "target", "met?")


@dataclass(frozen=True)
class Sizes:
    threads: int
    real_threads: int
    resumes: int
    events: int
    rate: float
    cycles: int
    runs: int  # of the alternated benchmarks (ack, pause→resume), each figure their median
    warmup: int  # pause→resume cycles per side per run, not kept
    fanout: int  # threads launched at once with a 1 s model


FULL = Sizes(
    threads=10_000,
    real_threads=1_000,
    resumes=1_000,
    events=2_000,
    rate=100,
    cycles=200,
    runs=3,
    warmup=5,
    fanout=1_000,
)
QUICK = Sizes(
    threads=60,
    real_threads=40,
    resumes=10,
    events=60,
    rate=100,
    cycles=5,
    runs=3,
    warmup=2,
    fanout=20,
)


def met(row: Row) -> str:
    return "—" if row.met is None else ("yes" if row.met else "NO")


def cells(row: Row) -> tuple[str, ...]:
    durability = row.durability or "—"
    return (row.figure, durability, row.ours, row.baseline, row.ratio, row.target, met(row))


def text_table(rows: Sequence[Row]) -> str:
    lines = [HEADER, *(cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines
    )


def machine() -> str:
    """What ran the benchmarks: interpreter, CPUs (and their model), OS."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = f" ({names[0].split(':', 1)[1].strip()})" if names else ""
    # The host is shared: its load when the run ended says how much to trust the spread.
    load = (
        f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
    )
    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs{model}, {platform.system()} {platform.machine()}{load}"
    )


def as_json(rows: Sequence[Row], *, sizes: Sizes, seconds: float, quick: bool) -> str:
    """The same figures as the table, with the per-run numbers behind them."""
    return json.dumps(
        {
            "run_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
            "machine": machine(),
            "quick": quick,
            "seconds": round(seconds, 1),
            "sizes": dataclasses.asdict(sizes),
            "figures": [dataclasses.asdict(r) for r in rows],
        },
        indent=2,
        ensure_ascii=False,
    )


def markdown(
    rows: Sequence[Row],
    *,
    sizes: Sizes,
    seconds: float,
    quick: bool,
    only: Sequence[str] = BENCHMARKS,
) -> str:
    table = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    table += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    notes = [f"- **{r.figure}**: {r.note}" for r in rows if r.note]
    return "\n".join(
        [
            "# Benchmarks",
            "",
            'Produced by `python -m bench` (after `pip install -e ".[bench]"`); see',
            "[How these are measured](#how-these-are-measured). Do not edit by hand.",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, "
            f"{'QUICK sizes (smoke test, not results)' if quick else 'full sizes'}, "
            f"{seconds:.0f} s in all. Sizes: {sizes}."
            + ("" if set(only) == set(BENCHMARKS) else f" Only: {', '.join(only)}."),
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
    "The two alternated figures as seen in the runs of 2026-11-30 (a 2-core VM shared with other",
    "engineers' tests, load average 3 to 11 during the runs); the others as seen in the full",
    "runs of 2026-11-23. Rerun to check they still hold.",
    "",
    "- **Pause→resume overhead (target ≥ 10× less than LangGraph + SQLite in both durability",
    "  settings; measured 1.4× *more* with no sync, 1.7× *more* with a sync on every write).**",
    "  Our cycle is about 35 Redis round trips on loopback, 3 of them redundant re-reads, and",
    "  about 5.5 ms of it regenerates the tools' JSON schemas on every model step",
    "  (`Agent.tool_schemas()`); each load and save also parses or dumps the whole thread with",
    "  pydantic. With `appendfsync always` every one of our writes waits for an fsync, so the",
    "  synced setting widens the gap. LangGraph with nothing stored costs 7–8 ms on the same",
    "  host: that is the floor any checkpointer adds to, so 10× less than LangGraph + SQLite",
    "  means a cycle of about 1.5 ms, i.e. a few round trips and no per-step schema or",
    "  whole-thread work. The runtime work to get there is under way separately (issue 15).",
    "  Before this run the figure compared our Redis without persistence against SQLite",
    "  syncing each of its 13 writes per cycle, one side after the other: 7.73 ms against",
    "  9.58 ms (1.24× less) on 2026-11-23.",
    "- **Ack latency (target p99 ≤ 1.2× a bare Bolt app; measured p99 0.93×, run by run",
    "  0.47× to 1.59×; p50 1.35×, 1.25× to 1.37×).** The p99 counts as met in that run but",
    "  cannot be trusted on this host: in two of the three runs both apps' p99 was 260–570 ms",
    "  (stalls of the host, which alternation spreads over both sides but cannot remove), and",
    "  the p99 of 2,000 requests is its 20 slowest. The p50 is the stable signal: ours does",
    "  about 0.7 ms more per request. Profiled (cProfile, 1,000 mentions), the difference is",
    "  the two Redis round trips made before the 200 (`EXISTS` of the thread key, then the",
    "  dedupe-and-enqueue script: about 0.1 ms each at the median on loopback but 2–6 ms each",
    "  at the p99 on a busy host), the signature checked twice (once by our Starlette route,",
    "  once by Bolt) and the payload parsed into a pydantic model. The round trips cannot be",
    "  merged at the edge without weakening a guarantee: which job to enqueue (launch, or",
    "  reply in the existing thread) depends on the `EXISTS` answer, and the thread key and",
    "  the job stream are in different Redis Cluster hash slots, so no one script can do both.",
    "  The design that would cross it: the edge enqueues one mention job (one script, as now),",
    "  and the worker, which already checks whether the thread exists when it launches one,",
    "  makes it a launch or a reply.",
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
]


METHOD = [
    "Everything runs on loopback on one machine, against a `redis-server` the benchmark starts,",
    "the project's Slack emulator and the offline model. Each figure and its baseline are",
    "measured in the same run. Percentiles are nearest-rank.",
    "",
    "**Side by side.** The timed comparisons (ack latency, pause→resume) alternate the two",
    "sides request by request or cycle by cycle, rather than running one side and then the",
    "other, so a slow moment of the host (the machine is shared) falls on both alike. Each is",
    "measured in several runs (`Sizes.runs`); a cell shows the median run and, in brackets, the",
    "lowest and the highest run; a ratio is taken run by run and shown the same way. `--json",
    "FILE` writes the same figures with the per-run numbers behind them.",
    "",
    "**Durability.** The *durability* column says what each side synced to disk while it was",
    "timed. Every redis-server runs without persistence (`appendonly no`, no RDB saves) unless",
    "that column says otherwise; in the *sync on every write* setting Redis runs with",
    "`appendonly yes` and `appendfsync always` (an fsync before each write is answered) and",
    "LangGraph's SQLite with `synchronous=FULL`, both on the same ext4 disk. SQLite is always",
    "in WAL mode (`AsyncSqliteSaver.setup()` sets it). The benchmark checks that each server",
    "and database ran with the setting its row names. A dash: not a timed figure, or nothing",
    "stored.",
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


async def run_all(sizes: Sizes, *, quick: bool, only: Collection[str] = BENCHMARKS) -> list[Row]:
    """Every figure (or those of the benchmarks in `only`), in the issue's order (1 to 5),
    each with its baseline in the same run."""
    rows: list[Row] = []
    if "ack" in only:
        rows += await ack.run(events=sizes.events, rate=sizes.rate, runs=sizes.runs)
    if "resume" in only:
        rows += await resume.run(cycles=sizes.cycles, runs=sizes.runs, warmup=sizes.warmup)
    if "context" in only:
        rows += await context_cost.run(rounds=sizes.cycles)
    if {"storage", "tokens"} & set(only):
        ten_steps, stored = await trace.ten_step_thread()
        if "storage" in only:
            rows += await storage.run(ten_steps, stored, make_sdk_venv=not quick)
        if "tokens" in only:
            _, finished = await trace.deploy_thread()
            rows += tokens.run(finished, name="deploy with a question")
            rows += tokens.run(ten_steps, name="10-step")
            rows += await tokens.billed_run(make_sdk_venv=not quick)
    if "scale" in only:
        rows += await scale.run(
            threads=sizes.threads, real=sizes.real_threads, resumes=sizes.resumes
        )
    if "fanout" in only:
        rows += await fanout.run(threads=sizes.fanout, repeats=1 if quick else 3)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument(
        "--only",
        type=lambda names: names.split(","),
        default=list(BENCHMARKS),
        help=f"comma-separated, of {','.join(BENCHMARKS)} (default: all)",
    )
    args = parser.parse_args(argv)
    if unknown := set(args.only) - set(BENCHMARKS):
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    rows = asyncio.run(run_all(sizes, quick=args.quick, only=args.only))
    seconds = time.perf_counter() - started
    print(text_table(rows))
    print(f"\n{seconds:.0f} s; written to {args.out}")
    page = markdown(rows, sizes=sizes, seconds=seconds, quick=args.quick, only=args.only)
    args.out.write_text(page + "\n")
    if args.json is not None:
        args.json.write_text(as_json(rows, sizes=sizes, seconds=seconds, quick=args.quick) + "\n")
        print(f"figures as JSON in {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
