"""User groups resolved through Slack's usergroups.users.list, cached in Redis for a few
minutes so a burst of clicks makes one call."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime import keys

log = logging.getLogger(__name__)


def is_group(slack_id: str) -> bool:
    return slack_id.startswith("S")


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, redis: Redis) -> None:
        self._client = client
        self._redis = redis

    async def members(self, ids: Collection[str]) -> frozenset[str]:
        users = {i for i in ids if not is_group(i)}
        for group in (i for i in ids if is_group(i)):
            users |= await self._group(group)
        return frozenset(users)

    async def _group(self, group: str) -> set[str]:
        cached = await self._redis.get(keys.group_members(group))
        if cached is not None:
            return set(json.loads(cached))
        try:
            response = await self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            # Fail closed: a group we cannot read grants nobody anything.
            log.warning("cannot list members of %s: %s", group, exc.response.get("error"))
            return set()
        listed: list[object] = response.get("users") or []
        members = [str(u) for u in listed]
        await self._redis.set(keys.group_members(group), json.dumps(members), ex=keys.GROUP_TTL)
        return set(members)
