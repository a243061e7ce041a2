"""The benchmarks stay runnable: `python -m bench --quick` end to end, against a real redis-server,
the Slack emulator and the baselines. Its numbers are not checked here (CI machines vary); that
every figure is produced, with a baseline and a verdict where the issue sets a target, is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Runs the whole quick bench: ~20 s alone, but minutes on a machine busy with other tests.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# Skipped only where the `bench` extra is not installed (`pip install -e ".[bench]"`).
for module in ("bpe_openai", "langgraph.checkpoint.sqlite", "pydantic_ai"):
    pytest.importorskip(
        module, reason='the bench extra is not installed: pip install -e ".[bench]"'
    )

from bench.__main__ import BENCHMARKS, main  # noqa: E402

FIGURES = (
    "Ack latency p99",
    "Pause→resume overhead, no sync",
    "Pause→resume overhead, sync on every write",
    "Pause→resume overhead vs LangGraph with no storage",
    "Bytes per paused thread vs LangGraph (10 steps)",
    "Bytes per paused thread vs Pydantic AI",
    "Context tokens per step",
    "Billed prompt tokens per step vs LangGraph",
    "Redis memory per paused thread",
    "Resumes/s, 4 workers",
)


def test_quick_run_writes_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, as_json = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    # The fan-out's worker processes have their own smoke test (test_fanout.py).
    only = ",".join(b for b in BENCHMARKS if b != "fanout")
    assert main(["--quick", "--only", only, "--out", str(out), "--json", str(as_json)]) == 0
    printed = capsys.readouterr().out
    written = out.read_text()
    assert "QUICK sizes" in written
    for figure in FIGURES:
        assert figure in printed and figure in written, figure
    targets = [line for line in written.splitlines() if line.startswith("| ") and "≥" in line]
    targets += [line for line in written.splitlines() if line.startswith("| ") and "≤" in line]
    assert targets and all(line.endswith(("| yes |", "| NO |")) for line in targets), targets

    # The same figures as JSON, each timed comparison with its durability and per-run numbers.
    figures = {f["figure"]: f for f in json.loads(as_json.read_text())["figures"]}
    assert [f for f in figures if f in printed] == list(figures)
    timed = [f for name, f in figures.items() if name.startswith(("Ack", "Pause"))]
    assert len(timed) == 5 and all(f["durability"] and len(f["values"]["ours"]) == 3 for f in timed)
    synced = next(f for name, f in figures.items() if "sync on every write" in name)
    assert "appendfsync always" in synced["durability"], synced
    assert "synchronous=FULL" in synced["durability"], synced
