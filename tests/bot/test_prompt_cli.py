"""`hitl prompt show` as a user runs it: a real subprocess, a real Redis."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from agents.deploy import AGENT as DEPLOY
from agents.runtime.context import render_context
from agents.runtime.events import Error, UserMessage
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Thread
from tests.support import cli_env, hitl


def sections(out: str) -> dict[str, str]:
    """The output split at its `===== name =====` headings."""
    parts: dict[str, str] = {}
    name = "title"
    for line in out.splitlines():
        if line.startswith("===== ") and line.endswith(" ====="):
            name = line.strip("= ")
            parts[name] = ""
        else:
            parts[name] = parts.get(name, "") + line + "\n"
    return {key: value.strip("\n") for key, value in parts.items()}


async def test_prompt_show_prints_system_context_and_tools_of_a_stored_thread(
    redis_server: str, redis: Redis
) -> None:
    origin = SlackOrigin(channel="C0DEPLOYS", thread_ts="1700000000.000200")
    thread = Thread(
        id=thread_id_for(origin),
        agent="deploy",
        requester="U0ALICE",
        origin=origin,
        events=[
            UserMessage(user="U0ALICE", text="deploy api to production"),
            Error(message="invalid tool call: version: Field required"),
        ],
    )
    await ThreadStore(redis).create(thread)

    proc = await hitl(
        "prompt", "show", "deploy", "--thread", thread.id, environ=cli_env(redis_server)
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()

    shown = sections(out.decode())
    assert thread.id in shown["title"]
    assert shown["system"] == DEPLOY.prompt.rstrip("\n")
    assert shown["context"] == render_context(thread)
    assert "invalid tool call" in shown["context"]
    tools: list[dict[str, Any]] = json.loads(shown["tools"])
    assert tools == DEPLOY.tool_schemas()
    approval = next(t for t in tools if t["name"] == "request_approval")
    assert approval["parameters"]["required"] == ["action", "summary"]


async def test_prompt_show_without_a_thread_needs_no_redis() -> None:
    # Nothing listens on port 9: the example thread must not touch Redis.
    environ = cli_env("redis://127.0.0.1:9/0")
    proc = await hitl(
        "prompt", "show", "deploy", "--text", "deploy web to staging", environ=environ
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    shown = sections(out.decode())
    assert shown["context"].startswith("<user_message>\n")
    assert "text: deploy web to staging" in shown["context"]
    assert json.loads(shown["tools"]) == DEPLOY.tool_schemas()


async def test_prompt_show_names_a_missing_thread_and_unknown_agent(redis_server: str) -> None:
    missing = await hitl(
        "prompt", "show", "deploy", "--thread", "t000", environ=cli_env(redis_server)
    )
    _, err = await missing.communicate()
    assert missing.returncode == 1 and "no thread 't000'" in err.decode()

    unknown = await hitl("prompt", "show", "payroll", environ=cli_env(redis_server))
    _, err = await unknown.communicate()
    assert unknown.returncode == 2 and "invalid choice: 'payroll'" in err.decode()


async def test_prompt_show_covers_the_access_and_incident_agents() -> None:
    environ = cli_env("redis://127.0.0.1:9/0")
    for agent, tools in [
        ("access", ["grant_access", "revoke_access"]),
        ("incident", ["list_recent_deploys", "list_open_incidents", "rollback"]),
    ]:
        proc = await hitl("prompt", "show", agent, "--text", "checkout is down", environ=environ)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        shown = sections(out.decode())
        assert shown["system"].startswith(f"You are the {agent} agent")
        names = [tool["name"] for tool in json.loads(shown["tools"])]
        assert names[: len(tools)] == tools and names[-1] == "done_for_now"
