"""Each tool family as declared: its tools' policy facts, its adapter key, and the typed lookup
a tool runs its adapter through."""

from __future__ import annotations

from typing import Any

import pytest

from tools.access import ACCESS, ACCESS_TOOLS, GrantAccess, RevokeAccess
from tools.deploy import DEPLOY_TOOLS, DEPLOYER, Deploy, ListRecentDeploys, ListVersions, Rollback
from tools.incidents import INCIDENT_TOOLS, INCIDENTS, ListOpenIncidents
from tools.types import AdapterSet, ToolContext, ToolModel

FAMILIES = (DEPLOY_TOOLS, ACCESS_TOOLS, INCIDENT_TOOLS)
GRANT = GrantAccess(
    user="U0DANA", resource="billing-db", level="read", duration_hours=2, justification="audit"
)


@pytest.mark.parametrize(
    ("call", "gated"),
    [
        (Deploy(service="api", version="1.4.2", environment="production"), True),
        (Deploy(service="api", version="1.4.2", environment="staging"), False),
        (Rollback(service="api", environment="production"), True),
        (Rollback(service="api", environment="staging"), False),
        (ListVersions(service="api"), False),
        (ListRecentDeploys(), False),
        (GRANT, True),
        (RevokeAccess(user="U0DANA", resource="billing-db"), False),
        (ListOpenIncidents(), False),
    ],
)
def test_each_tool_says_whether_it_is_gated_by_default(call: ToolModel, gated: bool) -> None:
    assert call.gated_by_default() is gated


def test_a_grant_names_its_grantee_and_the_resource_whose_owner_decides() -> None:
    assert (GRANT.beneficiary(), GRANT.owner_key()) == ("U0DANA", "billing-db")
    revoke = RevokeAccess(user="U0DANA", resource="billing-db")
    # A revocation is decided by the resource's owner too, and only those with authority
    # over it run it at once.
    assert (revoke.beneficiary(), revoke.owner_key()) == ("U0DANA", "billing-db")
    assert revoke.needs_authority() and not GRANT.needs_authority()


def test_deploy_tools_have_no_beneficiary_or_owner() -> None:
    deploy = Deploy(service="api", version="v1.4.2", environment="production")
    assert (deploy.beneficiary(), deploy.owner_key()) == (None, None)


def test_families_are_named_after_their_settings_and_own_distinct_tools() -> None:
    assert [f.name for f in FAMILIES] == ["deploy", "access", "incidents"]
    assert [f.key for f in FAMILIES] == [DEPLOYER, ACCESS, INCIDENTS]
    intents = [t.model_fields["intent"].default for f in FAMILIES for t in f.tools]
    assert len(intents) == len(set(intents)) == 7
    assert all(issubclass(t, ToolModel) for f in FAMILIES for t in f.tools)


def test_a_context_hands_out_the_adapter_bound_under_a_family_key() -> None:
    marker: Any = object()
    ctx = ToolContext("t", "U0REQ", "t:c1", adapters=AdapterSet.of(ACCESS.bind(marker)))
    assert ctx.adapter(ACCESS) is marker


@pytest.mark.parametrize("call", [GRANT, ListOpenIncidents(), ListVersions(service="api")])
async def test_a_tool_whose_adapter_is_absent_fails_naming_the_family(call: ToolModel) -> None:
    ctx = ToolContext("t", "U0REQ", "t:c1")
    family = next(f for f in FAMILIES if type(call) in f.tools)
    with pytest.raises(RuntimeError, match=f"^no {family.name} adapter is configured$"):
        await call.run(ctx)  # type: ignore[attr-defined]
