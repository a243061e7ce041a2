"""The policy engine as pure logic: rules, gating, the terms of a human request, and who may
settle it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.runtime.events import APPROVAL, ESCALATION, FINAL, INPUT
from agents.runtime.policy import (
    Policy,
    PolicyError,
    Rule,
    load_policy_file,
    may_answer,
    may_approve,
    may_reject,
    may_take,
)
from tools.access import GrantAccess, RevokeAccess
from tools.deploy import Deploy, ListVersions

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PROD = Deploy(service="api", version="1.4.2", environment="production")
STAGING = Deploy(service="api", version="1.4.2", environment="staging")
GRANT = GrantAccess(
    user="U0DANA", resource="billing-db", level="read", duration_hours=2, justification="audit"
)
APPROVERS = ("U0LEAD", "U0SRE")


def test_a_rule_matches_its_tool_and_every_when_value() -> None:
    rule = Rule(tool="deploy", when={"environment": "production", "service": "api"})
    assert rule.matches(PROD.model_dump(mode="json"))
    assert not rule.matches(STAGING.model_dump(mode="json"))
    assert not rule.matches({"intent": "rollback", "environment": "production", "service": "api"})
    assert Rule(tool="list_versions").matches({"intent": "list_versions", "service": "x"})


def test_without_rules_the_tools_own_default_gates() -> None:
    policy = Policy()
    assert policy.needs_approval(PROD) and policy.needs_approval(GRANT)
    assert not policy.needs_approval(STAGING)
    # A revocation by its own grantee runs at once; by someone unknown it is gated.
    revoke = RevokeAccess(user="U0DANA", resource="billing-db")
    assert not policy.needs_approval(revoke, requester="U0DANA")
    assert policy.needs_approval(revoke)


def test_the_first_matching_rule_overrides_the_default_either_way() -> None:
    policy = Policy(
        rules=(
            Rule(tool="deploy", when={"service": "api", "environment": "staging"}, gated=True),
            Rule(tool="deploy", when={"service": "api"}, gated=False),
            Rule(tool="deploy", gated=True),
        )
    )
    assert policy.needs_approval(STAGING)
    assert not policy.needs_approval(PROD)
    assert policy.needs_approval(PROD.model_copy(update={"service": "web"}))
    assert not policy.needs_approval(ListVersions(service="api"))


def test_a_rule_without_gated_keeps_the_default() -> None:
    policy = Policy(rules=(Rule(tool="deploy", quorum=2),))
    assert policy.needs_approval(PROD) and not policy.needs_approval(STAGING)


def test_terms_default_to_the_approvers_one_approval_and_the_timeout() -> None:
    terms = Policy(approvers=APPROVERS, timeout=1000).terms(APPROVAL, action=PROD, now=NOW)
    assert (terms.deciders, terms.quorum) == (APPROVERS, 1)
    assert terms.deadline == NOW + timedelta(seconds=1000)
    assert terms.remind_at == NOW + timedelta(seconds=800)


def test_an_owned_resource_is_decided_by_its_owner_unless_a_rule_names_approvers() -> None:
    owners = {"billing-db": "U0DBA"}
    policy = Policy(approvers=APPROVERS, owners=owners)
    assert policy.terms(APPROVAL, action=GRANT, now=NOW).deciders == ("U0DBA",)
    other = GRANT.model_copy(update={"resource": "wiki"})
    assert policy.terms(APPROVAL, action=other, now=NOW).deciders == APPROVERS
    ruled = Policy(
        approvers=APPROVERS, owners=owners, rules=(Rule(tool="grant_access", approvers=("S0SEC",)),)
    )
    assert ruled.terms(APPROVAL, action=GRANT, now=NOW).deciders == ("S0SEC",)


def test_a_matching_rule_sets_approvers_quorum_and_timeout() -> None:
    rule = Rule(
        tool="deploy",
        when={"environment": "production"},
        approvers=("S0SRE",),
        quorum=2,
        timeout=600,
    )
    terms = Policy(approvers=APPROVERS, timeout=3600, rules=(rule,)).terms(
        APPROVAL, action=PROD, now=NOW
    )
    assert (terms.deciders, terms.quorum, terms.editable) == (("S0SRE",), 2, False)
    assert (terms.deadline, terms.remind_at) == (
        NOW + timedelta(seconds=600),
        NOW + timedelta(seconds=480),
    )


def test_escalations_go_to_oncall_and_questions_to_the_approvers() -> None:
    policy = Policy(approvers=APPROVERS, oncall="S0ONCALL", owners={"billing-db": "U0DBA"})
    assert policy.terms(ESCALATION, action=None, now=NOW).deciders == ("S0ONCALL",)
    assert policy.terms(INPUT, action=None, now=NOW).deciders == APPROVERS
    # Only an approval request looks at the call: rules and owners do not apply to others.
    assert policy.terms(INPUT, action=GRANT, now=NOW).deciders == APPROVERS
    assert Policy(approvers=APPROVERS).terms(ESCALATION, action=None, now=NOW).deciders == APPROVERS
    assert Policy().terms(FINAL, action=None, now=NOW).deciders == ()


def test_who_may_settle_a_request() -> None:
    deciders = {"U0LEAD"}
    assert may_approve("U0LEAD", requester="U0REQ", allowed=deciders)
    assert not may_approve("U0REQ", requester="U0REQ", allowed={"U0REQ"})
    assert not may_approve("U0EVE", requester="U0REQ", allowed=deciders)
    assert may_approve("U0EVE", requester="U0REQ", allowed=None)
    assert may_reject("U0REQ", requester="U0REQ", allowed=deciders)
    assert not may_reject("U0EVE", requester="U0REQ", allowed=deciders)
    assert may_answer("U0REQ", requester="U0REQ", allowed=None)
    assert may_answer("U0LEAD", requester="U0REQ", allowed=deciders)
    assert not may_answer("U0EVE", requester="U0REQ", allowed=None)
    assert may_take("U0EVE", allowed=None) and may_take("U0LEAD", allowed=deciders)
    assert not may_take("U0EVE", allowed=deciders)


def test_a_broken_policy_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "policy.yml"
    path.write_text("rules:\n  - tool: deploy\n    quorum: 0\n")
    with pytest.raises(PolicyError, match=f"^policy file {path}: "):
        load_policy_file(path)
    path.write_text("rules:\n  - tool: deploy\n    when: {environment: production}\n")
    assert load_policy_file(path).rules == (
        Rule(tool="deploy", when={"environment": "production"}),
    )
