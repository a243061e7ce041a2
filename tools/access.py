"""The access family: the tools (`grant_access`, `revoke_access`), their adapter Protocol, the
simulated adapter and the signed-webhook one. A grant always needs approval, by the owner of its
resource when one is known (policy looks it up under `owner_key()`), and schedules its own
revocation for when it expires. A revocation runs at once only for the grantee, the resource's
owner or an approver (`needs_authority()`); anyone else's waits for the owner's approval."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import Field

from tools.types import (
    AdapterKey,
    RetryableToolError,
    Shown,
    SimulatedStore,
    ToolContext,
    ToolFamily,
    ToolModel,
    ToolOutput,
    Webhook,
    shown_value,
    utcnow,
)

RESOURCE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
USER_PATTERN = r"^[UW][A-Z0-9]{2,20}$"
"""A Slack user ID: a plain name could not be matched to the person who may not approve their
own grant (separation of duties compares IDs), so a name is refused, not guessed."""
MAX_HOURS = 30 * 24


class GrantAccess(ToolModel):
    """Give a person access to a resource for a limited time; it is revoked when it expires."""

    intent: Literal["grant_access"] = "grant_access"
    user: str = Field(pattern=USER_PATTERN, description="Slack user ID (U…) of who gets access.")
    resource: str = Field(pattern=RESOURCE_PATTERN, description="Resource name, e.g. `billing-db`.")
    level: Literal["read", "write", "admin"] = Field(description="What they may do.")
    duration_hours: int = Field(ge=1, le=MAX_HOURS, description="How long, in hours (max 720).")
    justification: str = Field(
        min_length=3, max_length=300, description="Why they need it, as the requester said."
    )

    def summary(self) -> str:
        # Only validated arguments: the justification is people's words, shown as a field.
        return (
            f"Grant <@{self.user}> {self.level} access to {self.resource} for "
            f"{_duration(self.duration_hours)}"
        )

    def fields(self) -> list[Shown]:
        return [
            Shown("Who", self.user, user=True),
            Shown("Resource", self.resource),
            Shown("Level", self.level),
            Shown("Duration", _duration(self.duration_hours)),
            Shown("Justification", shown_value(self.justification)),
        ]

    def gated_by_default(self) -> bool:
        return True

    def beneficiary(self) -> str | None:
        return self.user

    def owner_key(self) -> str | None:
        return self.resource

    async def run(self, ctx: ToolContext) -> ToolOutput:
        expires_at = (ctx.now or utcnow()) + timedelta(hours=self.duration_hours)
        output = await ctx.adapter(ACCESS).grant(
            self, expires_at=expires_at, idempotency_key=ctx.idempotency_key, receipt=ctx.receipt
        )
        if ctx.scheduler is not None:
            revoke = RevokeAccess(
                user=self.user,
                resource=self.resource,
                grant_id=str(output.get("grant_id") or ""),
                reason="expired",
            )
            await ctx.scheduler.schedule_call(
                ctx.thread_id, revoke.model_dump(mode="json"), at=expires_at
            )
        return {**output, "expires_at": expires_at.isoformat(), "revoke_scheduled": True}


class RevokeAccess(ToolModel):
    """Take a person's access to a resource away now."""

    intent: Literal["revoke_access"] = "revoke_access"
    user: str = Field(pattern=USER_PATTERN, description="Slack user ID (U…).")
    resource: str = Field(pattern=RESOURCE_PATTERN, description="Resource name.")
    grant_id: str = Field(default="", max_length=100, description="The grant, if known.")
    reason: str = Field(default="", max_length=300, description="Why, in a few words.")

    def summary(self) -> str:
        return f"Revoke <@{self.user}>'s access to {self.resource}"

    def fields(self) -> list[Shown]:
        return [
            Shown("Whose", self.user, user=True),
            Shown("Resource", self.resource),
            Shown("Grant", self.grant_id or "every grant they hold on it"),
            Shown("Reason", shown_value(self.reason)),
        ]

    def beneficiary(self) -> str | None:
        return self.user

    def owner_key(self) -> str | None:
        return self.resource

    def needs_authority(self) -> bool:
        # Taking access away is destructive: only the grantee, the resource's owner or an
        # approver does it at once; anyone else asks them.
        return True

    async def run(self, ctx: ToolContext) -> ToolOutput:
        return await ctx.adapter(ACCESS).revoke(
            self, idempotency_key=ctx.idempotency_key, receipt=ctx.receipt
        )


def _duration(hours: int) -> str:
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{hours} hour" + ("s" if hours != 1 else "")


class AccessGrants(Protocol):
    async def grant(
        self,
        call: GrantAccess,
        *,
        expires_at: datetime,
        idempotency_key: str,
        receipt: str | None = None,
    ) -> ToolOutput: ...

    async def revoke(
        self, call: RevokeAccess, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput: ...


ACCESS = AdapterKey[AccessGrants]("access")


class SimulatedAccess:
    """Records grants and revocations in Redis instead of changing anyone's access."""

    def __init__(self, store: SimulatedStore) -> None:
        self._redis = store.redis
        self._key = store.key
        self._ttl = store.ttl

    async def grant(
        self,
        call: GrantAccess,
        *,
        expires_at: datetime,
        idempotency_key: str,
        receipt: str | None = None,
    ) -> ToolOutput:
        grant_id = "g-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:8]
        record: ToolOutput = {
            "grant_id": grant_id,
            "user": call.user,
            "resource": call.resource,
            "level": call.level,
            "status": "active",
            "granted_at": utcnow().isoformat(),
            "expires_at": expires_at.isoformat(),
        }
        key = self._key
        # Kept until well after the last grant expires, or its revocation would find nothing
        # to revoke: NX gives a new hash its TTL, GT only ever lengthens an existing one.
        ttl = max(0, int(expires_at.timestamp() - time.time())) + self._ttl
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hsetnx(key, grant_id, json.dumps(record))
            pipe.expire(key, ttl, nx=True)
            pipe.expire(key, ttl, gt=True)
            created, _, _ = await pipe.execute()
        stored = None if created else await self._redis.hget(key, grant_id)
        return json.loads(stored) if stored else record

    async def revoke(
        self, call: RevokeAccess, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        matching = [
            g
            for g in await self.grants()
            if (g["grant_id"] == call.grant_id if call.grant_id else True)
            and (g["user"], g["resource"]) == (call.user, call.resource)
        ]
        if not matching:
            raise RetryableToolError(f"<@{call.user}> has no grant on {call.resource}")
        revoked = []
        for grant in matching:
            if grant["status"] == "active":
                grant |= {"status": "revoked", "revoked_at": utcnow().isoformat()}
                await self._redis.hset(self._key, grant["grant_id"], json.dumps(grant))
            revoked.append(grant["grant_id"])
        return {"user": call.user, "resource": call.resource, "revoked": revoked}

    async def grants(self) -> list[ToolOutput]:
        """Every simulated grant, oldest first, with its status (active or revoked)."""
        raw = await self._redis.hvals(self._key)
        return sorted((json.loads(r) for r in raw), key=lambda r: str(r["granted_at"]))


class WebhookAccess:
    """Grants and revocations as `grant_access` / `revoke_access` actions on a signed webhook;
    grants carry `expires_at` so the receiver may enforce it too (it is not one of the approved
    arguments: leave it out when verifying the receipt)."""

    def __init__(self, webhook: Webhook) -> None:
        self._webhook = webhook

    async def grant(
        self,
        call: GrantAccess,
        *,
        expires_at: datetime,
        idempotency_key: str,
        receipt: str | None = None,
    ) -> ToolOutput:
        arguments = call.model_dump(mode="json", exclude={"intent"})
        arguments["expires_at"] = expires_at.isoformat()
        return await self._webhook.call(
            "grant_access", arguments, idempotency_key=idempotency_key, receipt=receipt
        )

    async def revoke(
        self, call: RevokeAccess, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        arguments = call.model_dump(mode="json", exclude={"intent"})
        return await self._webhook.call(
            "revoke_access", arguments, idempotency_key=idempotency_key, receipt=receipt
        )


ACCESS_TOOLS = ToolFamily[AccessGrants](
    tools=(GrantAccess, RevokeAccess),
    key=ACCESS,
    simulated=SimulatedAccess,
    webhook=WebhookAccess,
    records="access",
)
