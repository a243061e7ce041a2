"""Which agents, tool families and webhook settings a configuration gives (no Redis, no HTTP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.runtime.agent import Agent
from bot.agent_loading import BUILT_IN, AgentLoadError, load_agents
from bot.services import families_of
from bot.settings import Settings
from tools.access import ACCESS_TOOLS
from tools.deploy import DEPLOY_TOOLS, Deploy
from tools.incidents import INCIDENT_TOOLS, ListOpenIncidents


def test_the_built_in_agents_load_in_order_and_share_families_once() -> None:
    agents = load_agents(BUILT_IN)
    assert [a.name for a in agents] == ["deploy", "access", "incident"]
    assert families_of(agents) == [DEPLOY_TOOLS, ACCESS_TOOLS, INCIDENT_TOOLS]
    assert families_of(agents[2:]) == [DEPLOY_TOOLS, INCIDENT_TOOLS]
    assert all(a.prompt.startswith(f"You are the {a.name} agent") for a in agents)


def test_an_empty_agent_list_is_refused() -> None:
    with pytest.raises(AgentLoadError, match="HITL_AGENTS is empty"):
        load_agents(())


def test_a_tool_outside_the_agents_families_is_named() -> None:
    with pytest.raises(ValueError, match="ListOpenIncidents belong to none of its families"):
        Agent(
            name="x",
            prompt_path=Path("x.md"),
            tools=(Deploy, ListOpenIncidents),
            families=(DEPLOY_TOOLS,),
        )


def test_the_agent_list_is_read_from_the_environment_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HITL_AGENTS", " incident, deploy ,mypkg.triage")
    assert Settings().hitl_agents == ("incident", "deploy", "mypkg.triage")


def test_a_family_of_your_own_finds_its_webhook_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HITL_TRIAGE_WEBHOOK_URL", "https://hooks.example/triage")
    monkeypatch.setenv("HITL_TRIAGE_WEBHOOK_SECRET", "s3")
    monkeypatch.setenv("HITL_ACCESS_WEBHOOK_URL", "https://hooks.example/access")
    settings = Settings()
    assert settings.webhook("triage") == ("https://hooks.example/triage", "s3")
    assert settings.webhook("access") == ("https://hooks.example/access", None)
    assert settings.webhook("payroll") == (None, None)
