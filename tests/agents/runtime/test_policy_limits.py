"""Limits in the policy file: every matching limit applies, values are strictly numeric, and a
breach says which argument, its value and the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.runtime.policy import Limit, Policy, PolicyError, load_policy_file
from tools.access import GrantAccess
from tools.deploy import Deploy


def grant(level: str, hours: int) -> GrantAccess:
    return GrantAccess(
        user="U0DANA", resource="billing-db", level=level, duration_hours=hours, justification="x y"
    )


ADMIN = Limit(tool="grant_access", when={"level": "admin"}, max={"duration_hours": 4})
ANY = Limit(tool="grant_access", max={"duration_hours": 168})


def test_every_matching_limit_applies_not_only_the_first() -> None:
    policy = Policy(limits=(ANY, ADMIN))
    assert policy.over_limit(grant("admin", 4)) is None
    assert policy.over_limit(grant("admin", 5)) == (
        "duration_hours 5 is over the limit of 4 for grant_access with level admin"
    )
    assert policy.over_limit(grant("read", 100)) is None
    assert policy.over_limit(grant("read", 720)) == (
        "duration_hours 720 is over the limit of 168 for grant_access"
    )


def test_a_limit_ignores_other_tools_and_arguments_it_does_not_find() -> None:
    policy = Policy(limits=(ADMIN, Limit(tool="deploy", max={"replicas": 3})))
    assert (
        policy.over_limit(Deploy(service="api", version="1.0.0", environment="production")) is None
    )
    assert policy.over_limit(grant("read", 720)) is None


def test_limits_load_from_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(
        "limits:\n  - tool: grant_access\n    when: {level: admin}\n    max: {duration_hours: 4}\n"
    )
    assert load_policy_file(path).limits == (ADMIN,)


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ("max: {duration_hours: '4'}", "limits.0.max.duration_hours"),
        ("max: {duration_hours: true}", "limits.0.max.duration_hours"),
        ("max: {}", "limits.0.max"),
        ("max: {duration_hours: 4}\n    maximum: 5", "limits.0.maximum"),
        ("when: {level: admin}", "limits.0.max"),
    ],
    ids=["string", "bool", "empty", "unknown-key", "missing-max"],
)
def test_a_bad_limit_is_a_policy_error_naming_the_entry(
    tmp_path: Path, entry: str, named: str
) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(f"limits:\n  - tool: grant_access\n    {entry}\n")
    with pytest.raises(PolicyError, match=named.replace(".", r"\.")):
        load_policy_file(path)
