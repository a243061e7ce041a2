"""The sandbox as `hitl sandbox` wires it: emulator + bot + worker, on the embedded Redis when
no redis-server is installed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from bot.runners import local_redis, sandbox_stack
from bot.serving import free_port
from bot.settings import Settings
from tests.conftest import ALICE, BOB, DEPLOYS
from tests.support import approval_message, bot_replies, has_buttons

OFFLINE = Settings(llm_provider="offline", hitl_approvers=frozenset())


@pytest.fixture
def no_redis_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH where `redis-server` cannot be found."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


async def test_embedded_redis_runs_the_approval_flow(
    no_redis_server: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with (
        local_redis(tmp_path / "redis") as redis,
        sandbox_stack(OFFLINE, redis_url=redis.url, retries=False) as sandbox,
    ):
        assert redis.in_memory
        assert "state is in memory only" in capsys.readouterr().out.lower()
        slack = sandbox.emulator
        mention = await slack.post_message(
            user=ALICE, channel=DEPLOYS, text="<@UHITLBOT> deploy api 1.4.2 to production"
        )
        root = mention.message.ts
        await slack.wait_for(lambda: any(map(has_buttons, bot_replies(slack, DEPLOYS, root))))

        clicked = await slack.click(
            user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
        )
        assert clicked.status_code == 200

        def deployed() -> bool:
            return any("Deployed api 1.4.2" in m.text for m in bot_replies(slack, DEPLOYS, root))

        await slack.wait_for(deployed, timeout=10)
        assert slack.violations == []
    assert not (tmp_path / "redis").exists()  # nothing was written to disk


async def test_hitl_sandbox_without_redis_server_says_so_and_stops_cleanly(
    no_redis_server: Path, tmp_path: Path
) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HITL_"))}
    # Its state file goes here, not where a developer's own sandbox keeps one.
    environ["HITL_SANDBOX_STATE"] = str(tmp_path / "sandbox.json")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "sandbox"),
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    out = ""
    try:
        while "Ctrl-C stops" not in out:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
            assert line, f"sandbox exited early: {out}"
            out += line.decode()
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{port}/")
        assert page.status_code == 200 and "slack-hitl sandbox" in page.text
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    assert "in-memory Redis" in out and "Redis: in memory" in out
