"""The simulated adapters against a real Redis: they record under the key and TTL their builder
gives them, and answer retries with the first result."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from tools.access import ACCESS, ACCESS_TOOLS, GrantAccess, RevokeAccess, SimulatedAccess
from tools.deploy import (
    DEPLOY_TOOLS,
    SIMULATED_VERSIONS,
    Deploy,
    ListRecentDeploys,
    ListVersions,
    Rollback,
    SimulatedDeployer,
)
from tools.incidents import INCIDENT_TOOLS, SimulatedIncidents
from tools.types import (
    AdapterSet,
    RetryableToolError,
    SimulatedStore,
    ToolContext,
    ToolOutput,
    utcnow,
)

KEY, TTL = "test:sim", 1000
PROD = Deploy(service="api", version="1.5.0", environment="production")


def store(redis: Redis) -> SimulatedStore:
    return SimulatedStore(redis, KEY, TTL)


async def test_a_retried_deploy_returns_the_first_record(redis: Redis) -> None:
    deployer = DEPLOY_TOOLS.simulated(store(redis))
    first = await deployer.deploy(PROD, idempotency_key="t:c1")
    changed = PROD.model_copy(update={"version": "9.9.9"})
    again = await deployer.deploy(changed, idempotency_key="t:c1")
    assert first == again and first["version"] == "1.5.0"
    assert await redis.hlen(KEY) == 1
    assert 0 < await redis.ttl(KEY) <= TTL


async def test_a_rollback_goes_to_the_version_deployed_before(redis: Redis) -> None:
    deployer = SimulatedDeployer(store(redis))
    rollback = Rollback(service="api", environment="production")
    with pytest.raises(RetryableToolError, match="no earlier version"):
        await deployer.rollback(rollback, idempotency_key="t:c0")
    await deployer.deploy(PROD.model_copy(update={"version": "1.4.2"}), idempotency_key="t:c1")
    await deployer.deploy(PROD, idempotency_key="t:c2")
    assert (await deployer.rollback(rollback, idempotency_key="t:c3"))["version"] == "1.4.2"
    versions = (await deployer.list_versions(ListVersions(service="api")))["versions"]
    assert versions == ["1.5.0", *SIMULATED_VERSIONS]
    recent = (await deployer.recent_deploys(ListRecentDeploys(hours=1)))["deploys"]
    assert [(d["action"], d["previous_version"]) for d in recent] == [
        ("rollback", "1.5.0"),
        ("deploy", "1.4.2"),
        ("deploy", None),
    ]


class Later:
    """Records what a tool asks to run later (the scheduler is the runtime's, not the tool's)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], datetime]] = []

    async def schedule_call(self, thread_id: str, call: dict[str, Any], *, at: datetime) -> None:
        self.calls.append((thread_id, call, at))


async def test_a_grant_is_recorded_and_its_revocation_scheduled_for_expiry(redis: Redis) -> None:
    access = ACCESS_TOOLS.simulated(store(redis))
    later, now = Later(), utcnow()
    grant = GrantAccess(
        user="U0DANA", resource="billing-db", level="read", duration_hours=3, justification="audit"
    )
    ctx = ToolContext(
        "t1",
        "U0REQ",
        "t1:c1",
        adapters=AdapterSet.of(ACCESS.bind(access)),
        scheduler=later,
        now=now,
    )
    output: ToolOutput = await grant.run(ctx)
    assert output["revoke_scheduled"] is True
    ((thread, call, at),) = later.calls
    assert (thread, call["intent"], call["grant_id"], at) == (
        "t1",
        "revoke_access",
        output["grant_id"],
        now + timedelta(hours=3),
    )
    # The hash outlives the grant by the store's TTL, so the revocation finds it.
    assert await redis.ttl(KEY) > 3 * 3600 + TTL - 60


async def test_a_revocation_marks_the_users_grants_revoked(redis: Redis) -> None:
    access = SimulatedAccess(store(redis))
    revoke = RevokeAccess(user="U0DANA", resource="billing-db")
    with pytest.raises(RetryableToolError, match="has no grant on billing-db"):
        await access.revoke(revoke, idempotency_key="t:c0")
    grant = GrantAccess(
        user="U0DANA", resource="billing-db", level="read", duration_hours=1, justification="audit"
    )
    await access.grant(grant, expires_at=utcnow() + timedelta(hours=1), idempotency_key="t:c1")
    revoked = await access.revoke(revoke, idempotency_key="t:c2")
    assert [g["status"] for g in await access.grants()] == ["revoked"]
    assert revoked["revoked"] == [g["grant_id"] for g in await access.grants()]


async def test_simulated_incidents_are_listed_oldest_first(redis: Redis) -> None:
    incidents = INCIDENT_TOOLS.simulated(store(redis))
    assert isinstance(incidents, SimulatedIncidents)
    await incidents.open("INC-1", title="Slow", service="api")
    await incidents.open("INC-2", title="Down", service="db")
    listed = (await incidents.open_incidents())["incidents"]
    assert [i["id"] for i in listed] == ["INC-1", "INC-2"]
    assert 0 < await redis.ttl(KEY) <= TTL
