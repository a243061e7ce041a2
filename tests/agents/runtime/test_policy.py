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
    gains_from,
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


REVOKE = RevokeAccess(user="U0DANA", resource="billing-db")


def test_nobody_approves_a_call_they_gain_from() -> None:
    deciders = {"U0DBA", "U0DANA"}
    assert not may_approve("U0DANA", requester="U0REQ", allowed=deciders, beneficiaries={"U0DANA"})
    assert not may_approve("U0DANA", requester="U0REQ", allowed=None, beneficiaries={"U0DANA"})
    assert may_approve("U0DBA", requester="U0REQ", allowed=deciders, beneficiaries={"U0DANA"})
    assert gains_from("U0DANA", beneficiaries={"U0DANA"})
    assert not gains_from("U0DBA", beneficiaries={"U0DANA"})
    # Rejecting runs nothing: a grantee among the deciders may still turn it down.
    assert may_reject("U0DANA", requester="U0REQ", allowed=deciders)


def test_authority_over_a_revocation_is_its_grantee_the_owner_and_the_approvers() -> None:
    policy = Policy(approvers=APPROVERS, owners={"billing-db": "S0DBA"})
    assert policy.authority(REVOKE) == ("U0DANA", "S0DBA", *APPROVERS)
    ruled = Policy(approvers=("U0LEAD",), rules=(Rule(tool="revoke_access", approvers=("S0SEC",)),))
    assert ruled.authority(REVOKE) == ("U0DANA", "U0LEAD", "S0SEC")


def test_a_revocation_runs_at_once_only_for_someone_with_authority() -> None:
    policy = Policy(approvers=APPROVERS, owners={"billing-db": "U0DBA"})
    for person in ("U0DANA", "U0DBA", "U0LEAD"):
        assert not policy.needs_approval(REVOKE, requester=person)
    assert policy.needs_approval(REVOKE, requester="U0EVE")
    # With groups expanded by the caller, `allowed` is who has authority.
    owned_by_group = Policy(owners={"billing-db": "S0DBA"})
    assert owned_by_group.needs_approval(REVOKE, requester="U0DBA")
    assert not owned_by_group.needs_approval(REVOKE, requester="U0DBA", allowed={"U0DBA"})
    assert owned_by_group.needs_approval(REVOKE, requester="U0EVE", allowed={"U0DBA"})


def test_a_rule_still_decides_gating_before_authority() -> None:
    ungated = Policy(rules=(Rule(tool="revoke_access", gated=False),))
    assert not ungated.needs_approval(REVOKE, requester="U0EVE")
    gated = Policy(rules=(Rule(tool="revoke_access", gated=True),))
    assert gated.needs_approval(REVOKE, requester="U0DANA")
    # Grants are gated for everyone, authority or not; deploys have no authority check.
    assert Policy().needs_approval(GRANT, requester="U0DANA")
    assert not Policy().needs_approval(STAGING, requester="U0EVE")


def test_a_revocation_awaiting_approval_goes_to_the_resources_owner() -> None:
    policy = Policy(approvers=APPROVERS, owners={"billing-db": "U0DBA"})
    assert policy.terms(APPROVAL, action=REVOKE, now=NOW).deciders == ("U0DBA",)
