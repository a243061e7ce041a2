"""The loop as a reducer, driven by a scripted model; tools run on a real Redis."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from agents.deploy import AGENT as DEPLOY
from agents.models.scripted import ScriptedModel
from agents.runtime.events import (
    ApprovalDecision,
    Error,
    ToolCall,
    ToolResult,
    Usage,
    UserMessage,
    call_hash,
)
from agents.runtime.loop import StepDeps, step
from agents.runtime.thread import Status, Thread
from agents.runtime.types import ModelError, ModelReply
from bot.adapters import simulated_store
from tools.deploy import DEPLOY_TOOLS, DEPLOYER, SimulatedDeployer
from tools.types import AdapterSet

PROD = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}
STAGING = PROD | {"environment": "staging"}


def new_thread() -> Thread:
    return Thread(
        id="t1",
        agent="deploy",
        requester="U0ALICE",
        events=[UserMessage(user="U0ALICE", text="deploy api 1.4.2 to production")],
    )


@pytest.fixture
def deps(redis: Redis) -> StepDeps:
    return StepDeps(
        model=ScriptedModel(),
        adapters=AdapterSet.of(
            DEPLOYER.bind(SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)))
        ),
    )


async def run_model(deps: StepDeps, *outputs: object, thread: Thread | None = None) -> Thread:
    deps = StepDeps(model=ScriptedModel(*outputs), adapters=deps.adapters)  # type: ignore[arg-type]
    return await step(thread or new_thread(), agent=DEPLOY, deps=deps)


async def test_a_gated_call_made_directly_becomes_an_approval_request(deps: StepDeps) -> None:
    thread = await run_model(deps, PROD)
    call = thread.events[-1]
    assert isinstance(call, ToolCall)
    assert (call.intent, call.source, call.action) == ("request_approval", "policy", PROD)
    assert thread.status is Status.WAITING_APPROVAL


async def test_an_ungated_call_is_saved_first_then_run_once_by_the_next_step(
    deps: StepDeps, redis: Redis
) -> None:
    thread = await run_model(deps, STAGING)
    assert isinstance(thread.events[-1], ToolCall) and thread.status is Status.RUNNING
    assert await SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)).deployments() == []

    ran = await step(thread, agent=DEPLOY, deps=deps)
    again = await step(thread, agent=DEPLOY, deps=deps)  # a retried step after a crash
    assert isinstance(ran.events[-1], ToolResult)
    assert ran.events[-1].output == again.events[-1].output  # type: ignore[union-attr]
    assert len(await SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)).deployments()) == 1


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("not json", "output was not a JSON tool call"),
        (json.dumps({"intent": "drop_database"}), "invalid tool call"),
        (json.dumps(PROD | {"version": "latest"}), "version"),
        (json.dumps({"intent": "done_for_now"}), "message"),
    ],
)
async def test_junk_model_output_becomes_a_compact_error(
    deps: StepDeps, output: str, expected: str
) -> None:
    thread = await run_model(deps, output)
    error = thread.events[-1]
    assert isinstance(error, Error) and expected in error.message
    assert len(error.message) <= 300
    assert thread.status is Status.RUNNING


async def test_model_unavailable_is_an_error_event(deps: StepDeps) -> None:
    thread = await run_model(deps, ModelError("503 from provider"))
    assert isinstance(thread.events[-1], Error)
    assert "503" in thread.events[-1].message


async def test_three_errors_in_a_row_escalate_to_a_person(deps: StepDeps) -> None:
    thread = new_thread().append(*(Error(message="junk") for _ in range(3)))
    stopped = await run_model(deps, thread=thread)
    assert stopped.status is Status.WAITING_ESCALATION
    call = stopped.events[-1]
    assert isinstance(call, ToolCall) and call.source == "runtime"
    assert "3 errors in a row" in call.arguments["reason"] and call.terms is not None


async def test_failed_tool_calls_count_towards_the_error_limit(deps: StepDeps) -> None:
    failing = [ToolCall(call_id=f"c{i}", intent="deploy", arguments=STAGING) for i in range(3)]
    thread = new_thread().append(*[e for c in failing for e in (c, Error(message="boom"))])
    assert thread.consecutive_errors() == 3
    assert (
        new_thread()
        .append(Error(message="x"), UserMessage(user="U", text="y"))
        .consecutive_errors()
        == 0
    )


async def test_step_limit_ends_the_run(deps: StepDeps) -> None:
    calls = [ToolCall(call_id=f"c{i}", intent="deploy", arguments=STAGING) for i in range(10)]
    results = [ToolResult(call_id=f"c{i}", intent="deploy", output={}) for i in range(10)]
    thread = new_thread().append(*[e for pair in zip(calls, results, strict=True) for e in pair])
    stopped = await run_model(deps, thread=thread)
    assert stopped.status is Status.DONE
    assert "10 steps" in stopped.events[-1].arguments["message"]  # type: ignore[union-attr]


async def test_an_approval_runs_only_the_exact_call_it_was_given_for(
    deps: StepDeps, redis: Redis
) -> None:
    waiting = await run_model(deps, PROD)
    request = waiting.events[-1]
    assert isinstance(request, ToolCall)
    forged = ApprovalDecision(
        call_id=request.call_id,
        approved=True,
        user="U0BOB",
        action_hash=call_hash(PROD | {"version": "9.9.9"}),
    )
    refused = await step(waiting.append(forged), agent=DEPLOY, deps=deps)
    assert isinstance(refused.events[-1], Error)
    assert await SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)).deployments() == []

    real = forged.model_copy(update={"action_hash": call_hash(PROD)})
    ran = await step(waiting.append(real), agent=DEPLOY, deps=deps)
    assert isinstance(ran.events[-1], ToolResult)
    assert [
        d["version"]
        for d in await SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)).deployments()
    ] == ["1.4.2"]


async def test_waiting_and_done_threads_do_not_change(deps: StepDeps) -> None:
    waiting = await run_model(deps, PROD)
    assert await step(waiting, agent=DEPLOY, deps=deps) == waiting
    done = await run_model(deps, {"intent": "done_for_now", "message": "bye"})
    assert await step(done, agent=DEPLOY, deps=deps) == done


async def test_token_usage_is_recorded_on_the_step(deps: StepDeps) -> None:
    usage = Usage(input_tokens=812, output_tokens=31)
    thread = await run_model(deps, ModelReply(json.dumps(PROD), usage=usage))
    assert thread.events[-1].usage == usage  # type: ignore[union-attr]
    junk = await run_model(deps, ModelReply("nope", usage=usage))
    assert isinstance(junk.events[-1], Error) and junk.events[-1].usage == usage
