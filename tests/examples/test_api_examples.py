"""The examples in examples/ (issue 14, item 5), each run as the user would run it: a real
subprocess against a real `hitl` (the Bolt app over HTTP, its worker, real Redis, the Slack
emulator), decided by a signed click on the card it posts."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from bot.emulator.server import SlackEmulator
from bot.emulator.state import Message
from tests.conftest import BOB, DEPLOYS, BotProcess, MakeBot
from tests.support import approval_message, has_buttons, reject, shown_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACTION = EXAMPLES / "github-actions"
TOKEN = "ci-secret-0123456789abcdef"


@dataclass
class Ran:
    code: int
    out: str


@asynccontextmanager
async def running(bot: BotProcess) -> AsyncIterator[None]:
    """The bot's worker running as in production, so the example's requests move by themselves."""
    worker = asyncio.create_task(bot.services.worker.run())
    try:
        yield
    finally:
        bot.services.worker.stop()
        await asyncio.wait_for(worker, timeout=10)


async def hitl(make_bot: MakeBot) -> BotProcess:
    return await make_bot(hitl_api_tokens=f"ci={TOKEN}:request")


def environ(bot: BotProcess, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HITL_URL": bot.server.url,
        "HITL_TOKEN": TOKEN,
        "HITL_CHANNEL": DEPLOYS,
        **extra,
    }


async def start(script: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def card(slack: SlackEmulator, process: asyncio.subprocess.Process) -> Message:
    """The approval card the example's request posted in #deploys."""

    def posted() -> bool:
        roots = [m for m in slack.messages if m.channel == DEPLOYS and m.thread_ts is None]
        return process.returncode is not None or any(
            has_buttons(m) for root in roots for m in slack.thread(DEPLOYS, root.ts)
        )

    await slack.wait_for(posted, timeout=15)
    assert process.returncode is None, "the example ended before asking"
    (root,) = [m for m in slack.messages if m.channel == DEPLOYS and m.thread_ts is None]
    return approval_message(slack, DEPLOYS, root.ts)


async def decide(slack: SlackEmulator, message: Message, *, approve: bool) -> None:
    if approve:
        response = await slack.click(user=BOB, message=message, action_id="hitl_approve")
        assert response.status_code == 200
    else:
        await reject(slack, user=BOB, message=message, reason="not during the sale")


async def finish(process: asyncio.subprocess.Process) -> Ran:
    out, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode is not None
    return Ran(code=process.returncode, out=out.decode())


async def run_decided(
    slack: SlackEmulator, bot: BotProcess, script: Path, env: dict[str, str], *, approve: bool
) -> tuple[Ran, Message]:
    """Run the example, decide its card in Slack, and wait for it to end."""
    async with running(bot):
        process = await start(script, env)
        try:
            asked = await card(slack, process)
            await decide(slack, asked, approve=approve)
            return await finish(process), asked
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def only_request_id(bot: BotProcess) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=f"{bot.server.url}/api", headers=headers) as api:
        (request,) = (await api.get("/requests")).json()
    return str(request["id"])


# --- examples/client.py ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("approve", "code", "said"), [(True, 0, "approved"), (False, 1, "rejected")]
)
async def test_the_client_exits_0_only_when_approved(
    slack: SlackEmulator, make_bot: MakeBot, approve: bool, code: int, said: str
) -> None:
    bot = await hitl(make_bot)
    ran, asked = await run_decided(
        slack, bot, EXAMPLES / "client.py", environ(bot), approve=approve
    )
    assert "restart_service" in shown_text(asked) and "payments" in shown_text(asked)
    assert ran.code == code, ran.out
    assert ran.out.splitlines()[-1].startswith(f"{said} by {BOB}"), ran.out
    if not approve:
        assert "not during the sale" in ran.out


# --- examples/langgraph_interrupt.py -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("approve", "acted"), [(True, 1), (False, 0)])
async def test_the_langgraph_node_acts_once_after_approval_and_never_after_rejection(
    slack: SlackEmulator, make_bot: MakeBot, approve: bool, acted: int
) -> None:
    bot = await hitl(make_bot)
    ran, asked = await run_decided(
        slack, bot, EXAMPLES / "langgraph_interrupt.py", environ(bot), approve=approve
    )
    # The card shows what the node's interrupt() asked about.
    assert "restart_service" in shown_text(asked) and "payments" in shown_text(asked)
    assert ran.out.count("ACTION: restarting payments") == acted, ran.out
    if approve:
        assert ran.code == 0 and ran.out.splitlines()[-1] == f"restarted, approved by {BOB}"
    else:
        assert ran.code == 1 and ran.out.splitlines()[-1] == "not restarted (rejected)"


# --- examples/github-actions/ ------------------------------------------------------------------


def action_env(bot: BotProcess, outputs: Path, **extra: str) -> dict[str, str]:
    return environ(
        bot,
        GITHUB_OUTPUT=str(outputs),
        GITHUB_ACTOR="octocat",
        HITL_SUMMARY="Deploy web 2.0.1 to production",
        HITL_ACTION_NAME="deploy",
        HITL_ARGUMENTS='{"service": "web", "version": "2.0.1"}',
        **extra,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("approve", "status", "by", "code"), [(True, "approved", BOB, 0), (False, "rejected", "", 1)]
)
async def test_the_actions_step_writes_its_outputs_and_fails_unless_approved(
    slack: SlackEmulator,
    make_bot: MakeBot,
    tmp_path: Path,
    approve: bool,
    status: str,
    by: str,
    code: int,
) -> None:
    bot = await hitl(make_bot)
    outputs = tmp_path / "github_output"
    outputs.write_text("earlier=kept\n")  # other steps' outputs share the file
    env = action_env(bot, outputs)
    ran, asked = await run_decided(
        slack, bot, ACTION / "wait_for_approval.py", env, approve=approve
    )
    assert "deploy" in shown_text(asked) and "2.0.1" in shown_text(asked)
    assert ran.code == code, ran.out
    request_id = await only_request_id(bot)
    assert outputs.read_text() == (
        f"earlier=kept\nrequest-id={request_id}\nstatus={status}\napproved-by={by}\n"
    )
    if not approve:
        assert "::error::Not approved: rejected (not during the sale)" in ran.out


@pytest.mark.slow
async def test_the_actions_step_cancels_its_request_when_the_timeout_passes(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path
) -> None:
    bot = await hitl(make_bot)
    outputs = tmp_path / "github_output"
    async with running(bot):
        process = await start(
            ACTION / "wait_for_approval.py", action_env(bot, outputs, HITL_TIMEOUT="1")
        )
        asked = await card(slack, process)
        ran = await finish(process)
    assert ran.code == 1, ran.out
    request_id = await only_request_id(bot)
    assert outputs.read_text() == f"request-id={request_id}\nstatus=cancelled\napproved-by=\n"
    assert not has_buttons(slack.find_message(DEPLOYS, asked.ts))


def test_the_action_runs_its_script_with_every_input_and_declares_every_output() -> None:
    action = yaml.safe_load((ACTION / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    (step,) = action["runs"]["steps"]
    assert step["run"] == 'python3 "$GITHUB_ACTION_PATH/wait_for_approval.py"'
    assert (ACTION / "wait_for_approval.py").is_file()
    # Every input reaches the script through the environment, none through the command line.
    passed = set(step["env"].values())
    assert passed == {f"${{{{ inputs.{name} }}}}" for name in action["inputs"]}
    assert "inputs." not in step["run"]
    assert set(action["outputs"]) == {"request-id", "status", "approved-by"}
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.{step['id']}.outputs.{name} }}}}"


def test_the_sample_workflow_uses_the_action_with_inputs_it_declares() -> None:
    action = yaml.safe_load((ACTION / "action.yml").read_text())
    workflow = yaml.safe_load((ACTION / "deploy.yml").read_text())
    steps = workflow["jobs"]["deploy"]["steps"]
    (uses,) = [s for s in steps if str(s.get("uses", "")).endswith("wait-for-approval")]
    assert set(uses["with"]) <= set(action["inputs"])
    required = {name for name, spec in action["inputs"].items() if spec.get("required")}
    assert required <= set(uses["with"])
