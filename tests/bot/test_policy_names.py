"""A policy file whose rule or limit names a tool or an argument the agents do not have stops
`hitl` at start: a typo must not silently leave a call ungated or unlimited."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.deploy import AGENT as DEPLOY
from agents.runtime.policy import PolicyFile, misnamed
from bot.emulator.server import SlackEmulator
from tests.support import hitl, worker_env

GOOD = """
rules:
  - {tool: deploy, when: {environment: production}, quorum: 2}
limits:
  - {tool: grant_access, when: {level: admin}, max: {duration_hours: 4}}
"""


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("rules: [{tool: deploy-api, gated: true}]", "rules.0.tool: no tool 'deploy-api'"),
        ("rules: [{tool: deploy, when: {env: production}}]", "rules.0.when.env: deploy has no"),
        ("limits: [{tool: grant_access, max: {hours: 4}}]", "limits.0.max.hours: grant_access"),
        ("limits: [{tool: grant_access, max: {level: 4}}]", "no numeric argument 'level'"),
    ],
)
async def test_a_misnamed_tool_or_argument_stops_hitl_with_the_entry_named(
    slack: SlackEmulator, redis_server: str, tmp_path: Path, text: str, named: str
) -> None:
    policy = tmp_path / "policy.yml"
    policy.write_text(text)
    environ = worker_env(slack, redis_server, HITL_POLICY_FILE=str(policy))
    proc = await hitl("worker", environ=environ)
    _, err = await proc.communicate()
    assert proc.returncode != 0
    assert named in err.decode()
    assert "Traceback" not in err.decode()


def test_a_policy_naming_real_tools_and_arguments_passes(tmp_path: Path) -> None:
    import yaml

    from agents.access import AGENT as ACCESS

    policy = PolicyFile.model_validate(yaml.safe_load(GOOD))
    assert misnamed(policy, [*DEPLOY.tools, *ACCESS.tools]) == []
    assert misnamed(policy, DEPLOY.tools) == [
        "limits.0.tool: no tool 'grant_access'; the agents have "
        "['deploy', 'list_versions', 'rollback']"
    ]
