"""The example agent of docs/agents.md, loaded by `HITL_AGENTS` as a real `hitl` subprocess: its
evals pass against the offline model and `hitl prompt show` prints its prompt file."""

from __future__ import annotations

from pathlib import Path

from tests.support import cli_env, hitl

EXAMPLES = Path(__file__).parents[1] / "examples"
AGENTS = "deploy,access,incident,tests.examples.flags"


async def test_the_example_agents_evals_pass_offline(redis_server: str) -> None:
    environ = cli_env(redis_server, HITL_AGENTS=AGENTS)
    proc = await hitl("eval", "--dir", str(EXAMPLES / "evals"), "--agent", "flags", environ=environ)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    rows = lines[1:-1]
    assert len(rows) == 2
    assert all(row.split()[0] == "flags" and "PASS" in row for row in rows)
    assert lines[-1] == "2/2 cases passed (model: offline)"


async def test_prompt_show_prints_the_example_agents_prompt_file(redis_server: str) -> None:
    environ = cli_env(redis_server, HITL_AGENTS=AGENTS)
    proc = await hitl("prompt", "show", "flags", environ=environ)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    shown = out.decode()
    system = shown.split("===== system =====\n", 1)[1].split("\n===== context =====", 1)[0]
    assert system.strip() == (EXAMPLES / "flags.md").read_text().strip()
    assert '"name": "set_flag"' in shown.split("===== tools =====", 1)[1]
