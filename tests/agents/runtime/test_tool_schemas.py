"""The tool schemas a model reads, for every agent: compact, valid JSON Schema, accepting the
calls the loop accepts, and `request_approval` naming the action's tool instead of repeating
every business tool's schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from agents.access import AGENT as ACCESS
from agents.deploy import AGENT as DEPLOY
from agents.incident import AGENT as INCIDENT
from agents.runtime.agent import Agent
from tools.human import RequestApproval

PROD = {"service": "api", "version": "1.4.2", "environment": "production"}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("deploy", PROD),
    ("list_versions", {"service": "api"}),
    ("rollback", {"service": "api", "environment": "production"}),
    ("rollback", {"service": "api", "environment": "staging", "to_version": "1.4.1"}),
    ("request_approval", {"action": {"intent": "deploy", **PROD}, "summary": "Deploy api"}),
    ("request_input", {"question": "Which version?", "options": ["1.4.2", "1.4.1"]}),
    ("escalate", {"reason": "The deploy failed twice."}),
    ("done_for_now", {"message": "Deployed."}),
]


def _keys(node: Any, *, names: bool = False) -> set[str]:
    """Every schema keyword in `node` (property names are names, not keywords)."""
    if isinstance(node, list):
        return set().union(*(_keys(n) for n in node))
    if not isinstance(node, dict):
        return set()
    if names:
        return set().union(*(_keys(v) for v in node.values()))
    found = set(node)
    for key, value in node.items():
        found |= _keys(value, names=key in ("properties", "$defs"))
    return found


@pytest.mark.parametrize("agent", [DEPLOY, ACCESS, INCIDENT], ids=lambda a: a.name)
def test_every_schema_is_valid_and_compact(agent: Agent) -> None:
    for tool in agent.tool_schemas():
        Draft202012Validator.check_schema(tool["parameters"])
        assert tool["parameters"]["type"] == "object"
        keywords = _keys(tool["parameters"])
        assert not keywords & {"title", "$defs", "$ref", "discriminator"}, tool["name"]
        assert "intent" not in tool["parameters"].get("properties", {}), tool["name"]


@pytest.mark.parametrize(("name", "arguments"), CALLS)
def test_what_the_schema_allows_the_loop_takes(name: str, arguments: dict[str, Any]) -> None:
    schema = next(t["parameters"] for t in DEPLOY.tool_schemas() if t["name"] == name)
    Draft202012Validator(schema).validate(arguments)
    # The provider clients put the intent back from the call's name.
    step = DEPLOY.parse_step(json.dumps({"intent": name, **arguments}))
    assert step.intent == name


def test_request_approval_names_the_tool_and_repeats_no_schema() -> None:
    (approval,) = [t for t in DEPLOY.tool_schemas() if t["name"] == "request_approval"]
    action = approval["parameters"]["properties"]["action"]
    assert action["properties"]["intent"]["enum"] == ["deploy", "list_versions", "rollback"]
    assert action["required"] == ["intent"]
    shown = json.dumps(approval)
    assert "service" not in shown and "pattern" not in shown
    assert len(shown) < 800  # 3,500 characters when it repeated every business tool


def test_an_approval_is_still_validated_against_its_tools_own_schema() -> None:
    bad = {"intent": "request_approval", "summary": "x"}
    with pytest.raises(ValueError, match="version"):
        DEPLOY.parse_step(
            json.dumps(bad | {"action": {**PROD, "intent": "deploy", "version": "latest"}})
        )
    with pytest.raises(ValueError):
        DEPLOY.parse_step(json.dumps(bad | {"action": {"intent": "drop_database"}}))
    step = DEPLOY.parse_step(json.dumps(bad | {"action": {"intent": "deploy", **PROD}}))
    assert isinstance(step, RequestApproval) and step.action.intent == "deploy"


def test_schemas_are_made_once_per_agent() -> None:
    first, again = DEPLOY.tool_schemas(), DEPLOY.tool_schemas()
    assert all(a is b for a, b in zip(first, again, strict=True))
    first.clear()  # a caller's list is its own
    assert len(DEPLOY.tool_schemas()) == 7
