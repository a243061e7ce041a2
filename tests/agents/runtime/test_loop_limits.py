"""A call over a policy limit is never offered for approval, however the model asks for it:
directly (gated or not) or through `request_approval`. The model hears which argument is over."""

from __future__ import annotations

from typing import Any

import pytest

from agents.access import AGENT as ACCESS
from agents.models.scripted import ScriptedModel
from agents.runtime.events import Error, ToolCall, UserMessage
from agents.runtime.loop import StepDeps, step
from agents.runtime.policy import Limit, Policy, Rule
from agents.runtime.thread import Thread

GRANT = {
    "intent": "grant_access",
    "user": "U0DANA",
    "resource": "billing-db",
    "level": "admin",
    "duration_hours": 720,
    "justification": "on call",
}
LIMITS = (Limit(tool="grant_access", when={"level": "admin"}, max={"duration_hours": 4}),)
OVER = "duration_hours 720 is over the limit of 4 for grant_access with level admin"
ASKED = {"intent": "request_approval", "action": GRANT, "summary": "grant it"}


def thread() -> Thread:
    said = UserMessage(user="U0ALICE", text="give dana admin on billing-db for a month")
    return Thread(id="t1", agent="access", requester="U0ALICE", events=[said])


async def one_step(policy: Policy, output: dict[str, Any]) -> Thread:
    deps = StepDeps(model=ScriptedModel(output), policy=policy)
    return await step(thread(), agent=ACCESS, deps=deps)


@pytest.mark.parametrize(
    ("rules", "output"),
    [((), GRANT), ((), ASKED), ((Rule(tool="grant_access", gated=False),), GRANT)],
    ids=["gated-call", "request-approval", "ungated-call"],
)
async def test_a_call_over_a_limit_becomes_an_error_for_the_model(
    rules: tuple[Rule, ...], output: dict[str, Any]
) -> None:
    stepped = await one_step(Policy(rules=rules, limits=LIMITS), output)
    last = stepped.events[-1]
    assert isinstance(last, Error) and last.message == OVER
    assert not any(isinstance(e, ToolCall) for e in stepped.events)


async def test_within_the_limit_the_call_is_offered_for_approval() -> None:
    stepped = await one_step(Policy(limits=LIMITS), GRANT | {"duration_hours": 4})
    last = stepped.events[-1]
    assert isinstance(last, ToolCall) and last.intent == "request_approval"
