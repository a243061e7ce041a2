"""Evals: scripted transcripts replayed against a model, one agent step at a time.

A transcript file (YAML, e.g. tests/evals/deploy.yaml) names an agent and its cases:

    agent: deploy
    cases:
      - name: missing version is asked, the reply resumes
        text: deploy web to staging          # the mention that starts the thread
        prefetch: {}                         # results of the agent's pre-fetch tools, by intent
        steps:
          - expect: {intent: request_input}  # the model's next step must match this
          - answer: "2.0.1"                  # a person answers the open question
          - expect: {intent: deploy, service: web, version: 2.0.1, environment: staging}
          - result: {status: succeeded}      # the last call's tool result
          - expect: {intent: done_for_now, message: "~deployed"}

Other steps: `approve: true`, `reject: <reason>`, `take: <reply>` (on-call takes the escalation
and replies). An expectation matches when every key it names matches the step (nested dicts
likewise); strings compare case-insensitively, and `~text` means "contains text". Tool policy
applies as at run time: a gated call made directly counts as the `request_approval` it becomes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agents.runtime.agent import Agent
from agents.runtime.context import build_request
from agents.runtime.events import (
    HUMAN_INTENTS,
    ApprovalDecision,
    EscalationTaken,
    Event,
    HumanResponse,
    ToolCall,
    ToolResult,
    UserMessage,
    call_hash,
)
from agents.runtime.policy import Policy
from agents.runtime.thread import Thread
from agents.runtime.types import Model, ModelError
from tools.types import Tool

REQUESTER = "U0EVAL"
DECIDER = "U0DECIDER"


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    text: str
    prefetch: dict[str, dict[str, Any]] = Field(default_factory=dict)
    steps: list[dict[str, Any]]


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str
    cases: list[Case]


@dataclass(frozen=True)
class Outcome:
    agent: str
    case: str
    passed: int
    expected: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.passed == self.expected and not self.problem


def load_suites(directory: Path) -> list[Suite]:
    return [
        Suite.model_validate(yaml.safe_load(path.read_text()))
        for path in sorted(directory.glob("*.yaml"))
    ]


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            matches(value, actual.get(key)) for key, value in expected.items()
        )
    if isinstance(expected, str) and isinstance(actual, str):
        if expected.startswith("~"):
            return expected[1:].lower() in actual.lower()
        return expected.lower() == actual.lower()
    if isinstance(expected, str | int | float) and not isinstance(expected, bool):
        return str(expected) == str(actual)
    return bool(expected == actual)


async def run_case(case: Case, *, agent: Agent, model: Model, policy: Policy) -> Outcome:
    thread = Thread(
        id="t-eval",
        agent=agent.name,
        requester=REQUESTER,
        events=[UserMessage(user=REQUESTER, text=case.text)],
    )
    for intent, output in case.prefetch.items():
        call_id = f"c{len(thread.events)}"
        thread = thread.append(
            ToolCall(call_id=call_id, intent=intent, arguments={}, source="runtime"),
            ToolResult(call_id=call_id, intent=intent, output=output),
        )
    expected = sum(1 for s in case.steps if "expect" in s)
    passed = 0
    for step in case.steps:
        if "expect" not in step:
            thread = _human(thread, step)
            continue
        call, problem = await _next_call(thread, agent=agent, model=model, policy=policy)
        if call is None:
            return Outcome(agent.name, case.name, passed, expected, problem)
        if not matches(step["expect"], call):
            got = json.dumps(call)[:120]
            return Outcome(agent.name, case.name, passed, expected, f"step {passed + 1}: got {got}")
        passed += 1
        intent = str(call.pop("intent"))
        thread = thread.append(
            ToolCall(call_id=f"c{len(thread.events)}", intent=intent, arguments=call)
        )
    return Outcome(agent.name, case.name, passed, expected)


async def _next_call(
    thread: Thread, *, agent: Agent, model: Model, policy: Policy
) -> tuple[dict[str, Any] | None, str]:
    try:
        reply = await model.next_step(build_request(agent, thread))
    except ModelError as exc:
        return None, f"model unavailable: {exc}"[:160]
    try:
        chosen = agent.parse_step(reply.text)
    except ValueError as exc:
        return None, f"invalid output: {str(exc).splitlines()[0]}"[:160]
    call = chosen.model_dump(mode="json")
    if agent.is_business(chosen.intent):
        tool = cast(Tool, chosen)
        if policy.needs_approval(tool):
            call = {"intent": "request_approval", "action": call, "summary": tool.summary()}
    return call, ""


def _human(thread: Thread, step: dict[str, Any]) -> Thread:
    """Apply a scripted person's or tool's step to the last call."""
    last = next(e for e in reversed(thread.events) if isinstance(e, ToolCall))
    event: list[Event]
    if "answer" in step:
        event = [HumanResponse(call_id=last.call_id, user=REQUESTER, text=str(step["answer"]))]
    elif "approve" in step or "reject" in step:
        approved = "approve" in step
        reason = None if approved else str(step["reject"])
        decision = ApprovalDecision(
            call_id=last.call_id,
            approved=approved,
            user=DECIDER,
            action_hash=call_hash(last.action),
            reason=reason,
        )
        event = [decision]
    elif "take" in step:
        event = [
            EscalationTaken(call_id=last.call_id, user=DECIDER),
            HumanResponse(call_id=last.call_id, user=DECIDER, text=str(step["take"])),
        ]
    elif "result" in step:
        intent = last.action_intent if last.intent in HUMAN_INTENTS else last.intent
        event = [ToolResult(call_id=last.call_id, intent=str(intent), output=step["result"])]
    else:
        raise ValueError(f"unknown eval step {step!r}")
    return thread.append(*event)
