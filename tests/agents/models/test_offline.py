"""The offline model's documented grammar."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.deploy import AGENT as DEPLOY
from agents.models.offline import OfflineModel
from agents.runtime.context import build_request
from agents.runtime.events import (
    ApprovalDecision,
    Error,
    HumanResponse,
    Resumed,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.runtime.thread import Thread


async def next_step(*events: Any) -> dict[str, Any]:
    thread = Thread(id="t1", agent="deploy", requester="U0ALICE", events=list(events))
    raw = (await OfflineModel([DEPLOY]).next_step(build_request(DEPLOY, thread))).text
    DEPLOY.parse_step(raw)  # always a valid step for the agent
    result: dict[str, Any] = json.loads(raw)
    return result


def said(text: str) -> UserMessage:
    return UserMessage(user="U0ALICE", text=f"<@UHITLBOT> {text}")


def listed(*versions: str, service: str = "api") -> list[Any]:
    """The `list_versions` step a production deploy takes before it asks for approval."""
    check = ToolCall(call_id="v1", intent="list_versions", arguments={"service": service})
    out = {"service": service, "versions": list(versions)}
    return [check, ToolResult(call_id="v1", intent="list_versions", output=out)]


@pytest.mark.parametrize(
    ("text", "version", "environment"),
    [
        ("deploy api 1.4.2 to production", "1.4.2", "production"),
        ("deploy api v1.4.2 to prod", "v1.4.2", "production"),
        ("Deploy API 2.0.0 to PROD.", "2.0.0", "production"),
    ],
)
async def test_production_asks_approval_for_exactly_that_deploy(
    text: str, version: str, environment: str
) -> None:
    check = await next_step(said(text))
    assert check == {"intent": "list_versions", "service": "api"}
    call = await next_step(said(text), *listed("2.0.0", "1.4.2"))
    assert call["intent"] == "request_approval"
    assert call["action"] == {
        "intent": "deploy",
        "service": "api",
        "version": version,
        "environment": environment,
    }


async def test_staging_deploys_at_once() -> None:
    call = await next_step(said("deploy web 3.1.0 to staging"))
    assert call == {
        "intent": "deploy",
        "service": "web",
        "version": "3.1.0",
        "environment": "staging",
    }


async def test_missing_version_is_asked_then_taken_from_the_reply() -> None:
    ask = await next_step(said("deploy api to production"))
    assert ask["intent"] == "request_input" and "Which version of api" in ask["question"]
    question = ToolCall(call_id="c1", intent="request_input", arguments=ask)
    answered = await next_step(
        said("deploy api to production"),
        question,
        HumanResponse(call_id="c1", user="U0ALICE", text="v1.4.2 please"),
        *listed("1.4.2"),
    )
    assert answered["intent"] == "request_approval"
    assert answered["action"]["version"] == "1.4.2"


async def test_a_reply_without_a_version_asks_again() -> None:
    question = ToolCall(call_id="c1", intent="request_input", arguments={"question": "?"})
    again = await next_step(
        said("deploy api to production"),
        question,
        HumanResponse(call_id="c1", user="U0ALICE", text="the latest"),
    )
    assert again["intent"] == "request_input"


@pytest.mark.parametrize("text", ["hello", "deploy", "rollback api", "deploy api 1.2.3 to qa"])
async def test_anything_else_gets_help(text: str) -> None:
    call = await next_step(said(text))
    assert call["intent"] == "done_for_now"
    assert "deploy" in call["message"]


async def test_results_and_rejections_are_reported() -> None:
    out = {
        "service": "api",
        "version": "1.4.2",
        "environment": "production",
        "deployment_id": "d-1",
    }
    done = await next_step(said("x"), ToolResult(call_id="c1", intent="deploy", output=out))
    assert "Deployed api 1.4.2 to production" in done["message"]
    rejected = await next_step(
        said("x"),
        ApprovalDecision(
            call_id="c1", approved=False, user="U0BOB", action_hash="h", reason="freeze"
        ),
    )
    assert "Rejected by <@U0BOB>" in rejected["message"] and "freeze" in rejected["message"]


async def test_notes_after_a_result_do_not_change_what_comes_next() -> None:
    # A note (a message Slack refused, a pause and resume) lands after the deploy's result:
    # the run still reports the result, it does not ask for approval again.
    request = ToolCall(
        call_id="c1",
        intent="request_approval",
        arguments={
            "action": {
                "intent": "deploy",
                "service": "api",
                "version": "1.4.2",
                "environment": "production",
            },
            "summary": "Deploy api 1.4.2 to production",
        },
    )
    result = ToolResult(
        call_id="c1",
        intent="deploy",
        output={
            "service": "api",
            "version": "1.4.2",
            "environment": "production",
            "status": "succeeded",
        },
    )
    notes = [
        Resumed(by="U0OPS"),
        Error(message="Slack refused chat.update in C1: message_not_found", scope="delivery"),
    ]
    for note in notes:
        step = await next_step(said("deploy api 1.4.2 to production"), request, result, note)
        assert step["intent"] == "done_for_now", step
