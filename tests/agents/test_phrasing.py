"""How people phrase requests, as the offline model reads them: one table through the
normaliser, keyword routing and each agent's offline planner."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.access import AGENT as ACCESS
from agents.deploy import AGENT as DEPLOY
from agents.incident import AGENT as INCIDENT
from agents.models.offline import OfflineModel
from agents.runtime.agent import Agent
from agents.runtime.context import build_request
from agents.runtime.events import Event, HumanResponse, ToolCall, ToolResult, UserMessage
from agents.runtime.phrasing import normalise
from agents.runtime.routing import Router
from agents.runtime.thread import Thread
from agents.versions import closest

AGENTS = {agent.name: agent for agent in (DEPLOY, ACCESS, INCIDENT)}
BOT, ALICE = "UHITLBOT", "U0ALICE"


def said(text: str) -> UserMessage:
    return UserMessage(user=ALICE, text=f"<@{BOT}> {text}")


async def step(agent: Agent, *events: Event) -> dict[str, Any]:
    thread = Thread(id="t1", agent=agent.name, requester=ALICE, events=list(events))
    model = OfflineModel(list(AGENTS.values()))
    raw = (await model.next_step(build_request(agent, thread))).text
    agent.parse_step(raw)  # always a valid step for the agent
    found: dict[str, Any] = json.loads(raw)
    return found


def contains(found: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Every key of `expected` matches (nested dicts likewise; `~text` means contains)."""
    for key, want in expected.items():
        got = found.get(key)
        if isinstance(want, dict):
            if not isinstance(got, dict) or not contains(got, want):
                return False
        elif isinstance(want, str) and want.startswith("~"):
            if want[1:] not in str(got):
                return False
        elif got != want:
            return False
    return True


PRODUCTION_API = {"intent": "list_versions", "service": "api"}
DANA_GRANT = {"intent": "request_approval", "action": {"intent": "grant_access", "user": "U0DANA"}}
PHRASINGS: list[tuple[str, str, dict[str, Any]]] = [
    ("can you deploy api 1.4.2 to production please", "deploy", PRODUCTION_API),
    ("🚀 deploy api 1.4.2 to prod", "deploy", PRODUCTION_API),
    (":rocket: could you please deploy API v1.4.2 to PROD, thanks! 🙏", "deploy", PRODUCTION_API),
    ("`deploy api 1.4.2 to production`", "deploy", PRODUCTION_API),
    ("I need to deploy api 1.4.2 to prod asap", "deploy", PRODUCTION_API),
    (
        "hey, deploy web 2.0.1 to stg",
        "deploy",
        {"intent": "deploy", "service": "web", "version": "2.0.1", "environment": "staging"},
    ),
    ("pls deploy web 2.0.1 in staging", "deploy", {"intent": "deploy", "environment": "staging"}),
    ("could you deploy api to prod?", "deploy", {"intent": "request_input"}),
    ("can you show versions of api?", "deploy", {"intent": "list_versions", "service": "api"}),
    (
        "please roll back api in prod",
        "deploy",
        {"intent": "request_approval", "action": {"intent": "rollback", "service": "api"}},
    ),
    (
        "please give <@U0DANA|dana> read access to billing-db for 2 days because PCI audit",
        "access",
        {**DANA_GRANT, "action": {"user": "U0DANA", "justification": "PCI audit"}},
    ),
    ("🔑 grant <@U0DANA> read access to billing-db for 1 day because oncall", "access", DANA_GRANT),
    (
        "could you give @dana write access to billing-db for 4 hours because on call",
        "access",
        # A name Slack did not turn into a mention is not guessed at: who gains must be certain.
        {"intent": "done_for_now", "message": "~Mention the person instead"},
    ),
    (
        "please grant me read access to billing-db for a day because debugging",
        "access",
        {"intent": "request_approval", "action": {"user": ALICE}},
    ),
    (
        "revoke <@U0DANA|dana> access to billing-db, thanks",
        "access",
        {"intent": "revoke_access", "user": "U0DANA", "resource": "billing-db"},
    ),
    ("the checkout service is down", "incident", {"intent": "escalate", "reason": "~of checkout"}),
    ("checkout is throwing 500s", "incident", {"intent": "escalate", "reason": "~of checkout"}),
    ("🔥 payments latency is high", "incident", {"intent": "escalate", "reason": "~of payments"}),
    ("we see errors on search since 10:00", "incident", {"reason": "~of search"}),
    ("500s from the search cluster!!", "incident", {"reason": "~of search"}),
    ("something is wrong, errors everywhere", "incident", {"intent": "request_input"}),
]


@pytest.mark.parametrize(("text", "agent", "expected"), PHRASINGS)
async def test_each_phrasing_reaches_its_agent_and_its_first_step(
    text: str, agent: str, expected: dict[str, Any]
) -> None:
    routed = await Router(list(AGENTS.values())).route(said(text))
    assert (routed.agent, routed.via) == (agent, "keywords")
    first = await step(AGENTS[agent], said(text))
    assert contains(first, expected), first


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        (f"<@{BOT}> can you deploy api 1.4.2 to prod please", "deploy api 1.4.2 to production"),
        (f"✅ <@{BOT}|hitl> deploy api to prod :pray:", "deploy api to production"),
        (f"hi <@{BOT}>, could you roll back api in stage?", "roll back api in staging"),
        ("give <@U1|dana> read access to prod-db", "give <@U1> read access to prod-db"),
        (f"<@{BOT}>: deploy api to prod", "deploy api to production"),
        ("thanks!", ""),
        ("Deploy API 1.4.2 to Prod", "Deploy API 1.4.2 to production"),
    ],
)
def test_the_normaliser_keeps_only_the_request(text: str, normal: str) -> None:
    assert normalise(text) == normal


def test_suggested_versions_are_the_closest_first() -> None:
    listed = ["2.0.0", "1.4.2", "1.4.1", "1.3.0"]
    assert closest("9.9.9", listed) == ["2.0.0", "1.4.2", "1.4.1"]
    assert closest("1.3.9", listed) == ["1.3.0", "1.4.2", "1.4.1"]
    assert closest("v1.4.3", listed, count=2) == ["1.4.2", "1.4.1"]


def versions_listed(*versions: str) -> list[Event]:
    check = ToolCall(call_id="v1", intent="list_versions", arguments={"service": "api"})
    out = {"service": "api", "versions": list(versions)}
    return [check, ToolResult(call_id="v1", intent="list_versions", output=out)]


async def test_an_unlisted_version_is_asked_about_and_the_answer_is_checked_too() -> None:
    request = [said("deploy api 9.9.9 to production"), *versions_listed("1.4.2", "1.4.1", "1.4.0")]
    ask = await step(DEPLOY, *request)
    assert ask == {
        "intent": "request_input",
        "question": "api has no version 9.9.9; the latest are 1.4.2, 1.4.1, 1.4.0 — which one?",
        "options": ["1.4.2", "1.4.1", "1.4.0"],
    }
    question = ToolCall(call_id="q1", intent="request_input", arguments=ask)

    async def answered(text: str) -> dict[str, Any]:
        return await step(
            DEPLOY, *request, question, HumanResponse(call_id="q1", user=ALICE, text=text)
        )

    approval = await answered("1.4.1 please")
    assert approval["intent"] == "request_approval"
    assert approval["action"] == {
        "intent": "deploy",
        "service": "api",
        "version": "1.4.1",
        "environment": "production",
    }
    assert (await answered("the latest"))["action"]["version"] == "1.4.2"
    again = await answered("8.8.8")
    assert again["intent"] == "request_input" and "no version 8.8.8" in again["question"]


async def test_a_service_named_in_the_answer_is_the_one_paged_about() -> None:
    request = said("something is wrong, errors everywhere")
    ask = await step(INCIDENT, request)
    assert ask["intent"] == "request_input"
    question = ToolCall(call_id="q1", intent="request_input", arguments=ask)
    answer = HumanResponse(call_id="q1", user=ALICE, text="the payments service 🙏")
    paged = await step(INCIDENT, request, question, answer)
    assert paged["intent"] == "escalate" and "No deploys of payments" in paged["reason"]


def test_quoted_context_below_a_request_is_not_part_of_it() -> None:
    text = (
        "deploy api 1.4.2 to prod please\n\nAbout this message from <@U0CAROL>:\n"
        "> api 1.4.2 fixes the login bug, can someone ship it?"
    )
    assert normalise(text) == "deploy api 1.4.2 to production"
