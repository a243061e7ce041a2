"""The `hitl` command as a user runs it: a real subprocess."""

from __future__ import annotations

import asyncio
import signal

import httpx
from redis.asyncio import Redis

from agents.runtime.events import UserMessage
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread
from bot.serving import free_port
from tests.support import cli_env, hitl


async def test_serve_answers_health_and_stops_cleanly_on_sigterm(redis_server: str) -> None:
    port = free_port()
    environ = cli_env(
        redis_server,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL="http://127.0.0.1:9/api/",
    )
    proc = await hitl("serve", "--host", "127.0.0.1", "--port", str(port), environ=environ)
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                health = await client.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        else:
            proc.kill()
            raise AssertionError((await proc.communicate())[1].decode())
        assert health.status_code == 200 and health.json() == {"ok": True}
        unsigned = await client.post(f"http://127.0.0.1:{port}/slack/events", content=b"{}")
        assert unsigned.status_code == 401
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=15) == 0


async def test_serve_without_credentials_says_what_to_set(redis_server: str) -> None:
    proc = await hitl("serve", environ=cli_env(redis_server))
    _, stderr = await proc.communicate()
    assert proc.returncode == 1
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET not set" in stderr.decode()


async def test_threads_list_and_show_print_the_timeline(redis_server: str, redis: Redis) -> None:
    origin = SlackOrigin(channel="C0DEPLOYS", thread_ts="1700000000.000100")
    thread = Thread(
        id=thread_id_for(origin),
        agent="deploy",
        requester="U0ALICE",
        origin=origin,
        events=[UserMessage(user="U0ALICE", text="deploy api to production")],
    )
    await ThreadStore(redis).create(thread)

    listed = await hitl("threads", "list", environ=cli_env(redis_server))
    out, _ = await listed.communicate()
    assert thread.id in out.decode() and "running" in out.decode()

    shown = await hitl("threads", "show", thread.id, environ=cli_env(redis_server))
    out, _ = await shown.communicate()
    assert "message              U0ALICE: deploy api to production" in out.decode()

    missing = await hitl("threads", "show", "t000", environ=cli_env(redis_server))
    _, err = await missing.communicate()
    # An expected failure: one line, exit 2 (it was exit 1 before issue 13).
    assert missing.returncode == 2 and err.decode() == "hitl: no thread 't000'\n"


async def test_worker_needs_no_signing_secret(redis_server: str) -> None:
    """A worker never serves Slack, so it starts with Redis and a bot token alone."""
    environ = cli_env(
        redis_server, SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL="http://127.0.0.1:9/"
    )
    proc = await hitl("worker", environ=environ)
    assert proc.stderr is not None
    seen = b""
    async with asyncio.timeout(30):
        while b"taking jobs" not in seen:
            line = await proc.stderr.readline()
            assert line, f"worker exited: {seen.decode()}"
            seen += line
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), timeout=15) == 0


async def test_an_agent_list_that_cannot_load_is_named(redis_server: str) -> None:
    for agents, named in [
        ("deploy,payroll", "no built-in agent 'payroll'"),
        ("deploy,mypkg.nothere", "cannot import mypkg.nothere"),
        ("deploy,agents.runtime.keys", "agents.runtime.keys defines no `AGENT = Agent(...)`"),
        ("deploy,agents.deploy", "deploy and agents.deploy both define an agent named 'deploy'"),
    ]:
        proc = await hitl("worker", environ=cli_env(redis_server, HITL_AGENTS=agents))
        _, stderr = await proc.communicate()
        assert proc.returncode == 1, stderr.decode()
        assert f"hitl: HITL_AGENTS: {named}" in stderr.decode()
