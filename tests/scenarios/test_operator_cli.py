"""Operators on the `hitl` command (issue 13 item 9): the real `hitl` process against real
Redis, the Slack emulator and, for finding the sandbox, a real `hitl sandbox`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import httpx
from redis.asyncio import Redis

from agents.runtime.events import Paused, UserMessage, utcnow
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread
from bot.emulator.server import SlackEmulator
from bot.serving import free_port
from tests.conftest import ALICE, BOB, BOT_TOKEN, DEPLOYS, MakeBot
from tests.support import approval_message, bot_replies, cli_env, deployments, hitl, mention


def no_env(state_file: Path, **extra: str) -> dict[str, str]:
    """A `hitl` environment with no REDIS_URL or Slack settings: only a sandbox can help."""
    clean = {k: v for k, v in cli_env("unused").items() if k != "REDIS_URL"}
    return clean | {"HITL_SANDBOX_STATE": str(state_file)} | extra


async def run(*args: str, environ: dict[str, str]) -> tuple[int, str, str]:
    proc = await hitl(*args, environ=environ)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=45)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_list_and_launch_find_a_running_sandbox(tmp_path: Path, redis_server: str) -> None:
    state_file = tmp_path / "run" / "sandbox.json"
    environ = no_env(state_file)
    port = free_port()
    sandbox = await hitl(
        "sandbox", "--port", str(port), "--data-dir", str(tmp_path / "data"), environ=environ
    )
    assert sandbox.stdout is not None
    try:
        banner = b""
        async with asyncio.timeout(45):
            while b"Ctrl-C stops" not in banner:
                line = await sandbox.stdout.readline()
                assert line, f"sandbox exited: {banner.decode()}"
                banner += line
        state = json.loads(state_file.read_text())
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        assert f"Thread API: {state['api_url']}" in banner.decode()
        assert state["api_token"] in banner.decode()

        code, out, err = await run(
            "threads", "launch", "--channel", DEPLOYS, "deploy api 1.4.2 to production",
            environ=environ,
        )  # fmt: skip
        assert code == 0, err
        launched = out.split("thread ")[1].split(";")[0]
        async with asyncio.timeout(30):
            while True:
                code, out, err = await run("threads", "list", environ=environ)
                assert code == 0, err
                if f"{launched}" in out and "waiting_approval" in out:
                    break
                await asyncio.sleep(0.3)
        # With another Redis named, the sandbox's emulator is not used to post.
        code, _, err = await run(
            "threads", "launch", "--channel", DEPLOYS, "hi",
            environ=environ | {"REDIS_URL": redis_server},
        )  # fmt: skip
        assert code == 2 and "SLACK_BOT_TOKEN is not set" in err
        # The printed API token opens the sandbox's thread API.
        async with httpx.AsyncClient() as client:
            listed = await client.get(
                f"{state['api_url']}/threads",
                headers={"Authorization": f"Bearer {state['api_token']}"},
            )
        assert [t["id"] for t in listed.json()] == [launched]
    finally:
        sandbox.send_signal(signal.SIGINT)
        await asyncio.wait_for(sandbox.wait(), timeout=30)
    assert not state_file.exists()


async def test_without_redis_or_sandbox_one_line_and_exit_2(tmp_path: Path) -> None:
    # A state file left by a dead sandbox is ignored.
    state_file = tmp_path / "sandbox.json"
    stale = {
        "pid": 2**22 + 7,
        "redis_url": "redis://127.0.0.1:1/0",
        "slack_api_url": "http://127.0.0.1:1/api/",
        "slack_bot_token": "xoxb-stale",
        "api_url": "http://127.0.0.1:1/api",
        "api_token": "t",
    }
    state_file.write_text(json.dumps(stale))
    port = free_port()  # nothing listens there
    for args in (("threads", "list"), ("audit", "verify")):
        environ = no_env(state_file, REDIS_URL=f"redis://127.0.0.1:{port}/0")
        code, out, err = await run(*args, environ=environ)
        assert (code, out) == (2, "")
        assert err == (
            f"hitl: no Redis at redis://127.0.0.1:{port} — start the sandbox with "
            "`make run`, or set REDIS_URL\n"
        )


async def test_launch_without_a_token_never_tries_slack_com(redis_server: str) -> None:
    environ = cli_env(redis_server)
    code, _, err = await run("threads", "launch", "--channel", DEPLOYS, "hi", environ=environ)
    assert code == 2
    assert err.startswith("hitl: SLACK_BOT_TOKEN is not set — start the sandbox with `make run`")
    assert "Traceback" not in err


async def test_respond_reports_the_refusal_and_exits_1(
    slack: SlackEmulator, make_bot: MakeBot, redis_server: str
) -> None:
    bot = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    environ = cli_env(redis_server)

    async def answered(*args: str) -> tuple[int, str, str]:
        proc = await hitl("threads", "respond", thread_id, *args, environ=environ)
        async with asyncio.timeout(45):
            while proc.returncode is None:
                await bot.settle()  # the worker applies or refuses the queued answer
                await asyncio.sleep(0.1)
        out, err = await proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    code, out, err = await answered("--as", ALICE, "--approve")
    assert code == 1, (out, err)
    assert err.startswith(f"hitl: {ALICE} may not approve: You can't approve or answer")

    code, out, err = await answered("--as", BOB, "--approve")
    assert code == 0, err
    assert "approved" in out and f"via the hitl CLI for {BOB}" in out

    code, _, err = await run(
        "threads", "respond", thread_id, "--as", BOB, "--approve", environ=environ
    )
    assert code == 2 and err == f"hitl: thread {thread_id} is not waiting for anyone (done)\n"


async def test_list_is_newest_first_and_filters_by_status(redis: Redis, redis_server: str) -> None:
    store = ThreadStore(redis)
    now = utcnow()
    made: dict[str, str] = {}
    for n, (name, extra) in enumerate([("old", False), ("paused", True), ("new", False)]):
        origin = SlackOrigin(channel=DEPLOYS, thread_ts=f"1700000000.00010{n}")
        at = now - timedelta(minutes=30 - 10 * n)
        events: list[UserMessage | Paused] = [UserMessage(user=ALICE, text=name, at=at)]
        if extra:  # paused last: the newest activity of all
            events.append(Paused(by="ops", reason="freeze", at=now))
        thread = Thread(
            id=thread_id_for(origin), agent="deploy", requester=ALICE, origin=origin,
            events=events, created_at=at,
        )  # fmt: skip
        await store.create(thread)
        made[name] = thread.id
    environ = cli_env(redis_server)

    code, out, _ = await run("threads", "list", environ=environ)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "THREAD", "AGENT", "STATUS", "REQUESTER", "LAST", "ACTIVITY", "WHERE"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [made["paused"], made["new"], made["old"]]

    code, out, _ = await run("threads", "list", "--status", "paused", environ=environ)
    assert [line.split()[0] for line in out.splitlines()[1:]] == [made["paused"]]
    code, out, _ = await run("threads", "list", "--status", "done", environ=environ)
    assert out.splitlines()[1:] == []

    code, out, _ = await run("threads", "show", made["paused"], environ=environ)
    assert "paused               by ops · reason: freeze" in out


async def test_pause_and_resume_keep_their_reasons(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, redis_server: str
) -> None:
    bot = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    environ = cli_env(redis_server)
    for verb, why in (("pause", "change freeze"), ("resume", "freeze lifted")):
        code, _, err = await run(
            "threads", verb, thread_id, "--by", "ops", "--reason", why, environ=environ
        )
        assert code == 0, err
        await bot.settle()

    shown = [m.text for m in bot_replies(slack, DEPLOYS, root)]
    assert any("Paused by `ops`: change freeze" in text for text in shown), shown
    assert any("Resumed by `ops`: freeze lifted" in text for text in shown), shown
    code, out, _ = await run("threads", "show", thread_id, environ=environ)
    assert "paused               by ops · reason: change freeze" in out
    assert "resumed              by ops · reason: freeze lifted" in out
    code, out, _ = await run("audit", "export", environ=environ)
    entries = [json.loads(line) for line in out.splitlines()]
    reasons = {e["event"]["type"]: e["event"].get("reason") for e in entries if "event" in e}
    assert reasons["paused"] == "change freeze" and reasons["resumed"] == "freeze lifted"


async def test_version_prints_the_package_version() -> None:
    code, out, _ = await run("--version", environ=dict(os.environ))
    assert (code, out) == (0, f"hitl {version('slack-hitl')}\n")


async def test_api_lists_by_status_newest_first(make_bot: MakeBot, redis: Redis) -> None:
    bot = await make_bot(hitl_api_token="tok")
    store = ThreadStore(redis)
    now = utcnow()
    ids = []
    for n in range(3):
        origin = SlackOrigin(channel=DEPLOYS, thread_ts=f"1700000001.00010{n}")
        at = now - timedelta(minutes=10 - n)
        events: list[UserMessage | Paused] = [UserMessage(user=ALICE, text="x", at=at)]
        if n < 2:
            events.append(Paused(by="ops", at=at))
        thread = Thread(
            id=thread_id_for(origin), agent="deploy", requester=ALICE, origin=origin,
            events=events, created_at=at,
        )  # fmt: skip
        await store.create(thread)
        ids.append(thread.id)
    headers = {"Authorization": "Bearer tok"}
    async with httpx.AsyncClient(base_url=f"{bot.server.url}/api", headers=headers) as client:
        paused = (await client.get("/threads", params={"status": "paused"})).json()
        assert [t["id"] for t in paused] == [ids[1], ids[0]]
        everything = (await client.get("/threads")).json()
        assert [t["id"] for t in everything] == [ids[2], ids[1], ids[0]]
        bad = await client.get("/threads", params={"status": "bogus"})
        assert bad.status_code == 400 and "waiting" in bad.json()["error"]


async def test_what_the_cli_launched_the_cli_cannot_approve_and_its_requester_gets_a_dm(
    slack: SlackEmulator, make_bot: MakeBot, redis_server: str
) -> None:
    """An operator can launch "as alice" and answer "as bob": the launch and the answer both
    come through the CLI, so the CLI's approval is refused; bob approves in Slack, and alice,
    who never saw the thread being started, is told the outcome by DM."""
    bot = await make_bot()
    environ = cli_env(redis_server, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=slack.api_url)
    code, out, err = await run(
        "threads", "launch", "--channel", DEPLOYS, "--as", ALICE,
        "deploy api 1.4.2 to production", environ=environ,
    )  # fmt: skip
    assert code == 0, err
    await bot.settle()
    (root,) = [m for m in slack.messages if m.thread_ts is None and m.channel == DEPLOYS]
    assert "(via the hitl CLI)" in root.text

    thread_id = out.split("thread ")[1].split(";")[0]
    proc = await hitl("threads", "respond", thread_id, "--as", BOB, "--approve",
                      environ=environ)  # fmt: skip
    async with asyncio.timeout(45):
        while proc.returncode is None:
            await bot.settle()
            await asyncio.sleep(0.1)
    _, err_bytes = await proc.communicate()
    assert proc.returncode == 1, (out, err_bytes)
    assert "the hitl CLI asked for this, so it cannot approve it" in err_bytes.decode()

    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root.ts), action_id="hitl_approve"
    )
    await bot.settle()
    assert await deployments(bot.services.redis) == [("api", "1.4.2", "production")]
    told = [m for m in slack.messages if m.channel == f"D{ALICE}"]
    assert len(told) == 1 and "Approved" in told[0].text
