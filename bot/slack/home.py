"""The approvals inbox in App Home: who sees which request, publishing the view, and binding
Home clicks to a view the bot published.

A viewer's Home lists the open approval requests they may decide (the request's deciders with
user groups expanded, never the requester, never whoever gains from the call: the same
`may_approve` the decision itself is checked with), their own requests, and recent decisions
they could take part in. It is published on `app_home_opened` and, through the outbox, each
time a request they may decide opens or settles (for people who opened the Home tab before:
the bot does not push a Home to someone who never looked at it).

Each publish records the view id Slack gave it and the requests it offered (`keys.home_view`):
a Home click counts only if it comes from that view, for that person, on a request it offered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

import aiohttp
from pydantic import BaseModel
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from agents.runtime import keys
from agents.runtime.agent import Agent
from agents.runtime.events import APPROVAL, ApprovalDecision, ToolCall
from agents.runtime.pending import Listed, PendingIndex, member
from agents.runtime.policy import may_approve
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from bot.slack import home_view
from bot.slack.directory import SlackDirectory
from bot.slack.payloads import RequestRef

log = logging.getLogger(__name__)

OPEN_RETRIES = 1
OPEN_RETRY_DELAY = 0.5
"""Slack wants the event's 200 within 3 s; one quick retry fits."""


class PublishedHome(BaseModel):
    """What the bot last published as one person's Home."""

    view_id: str
    requests: list[str]


class HomeTab:
    def __init__(self, redis: Redis, *, store: ThreadStore, agents: Mapping[str, Agent]) -> None:
        self._redis = redis
        self.index = PendingIndex(redis, store)
        self._agents = agents
        self._team_url: str | None = None

    async def publish(self, client: AsyncWebClient, user: str) -> AsyncSlackResponse:
        """Render and publish `user`'s Home; Slack's errors propagate (the caller decides
        whether to retry) and nothing is recorded then. Returns Slack's answer."""
        directory = SlackDirectory(client, self._redis)
        waiting: list[Listed] = []
        for item in await self.index.open():
            if await self._may_decide(directory, item, user):
                waiting.append(item)
        mine: list[Listed] = []
        decisions: list[Listed] = []
        for item in await self.index.recent():
            if item.thread.requester_of(item.call.call_id) == user:
                mine.append(item)
            elif not item.open and await self._took_part(directory, item, user):
                decisions.append(item)
        team_url = await self._team(client)
        view = home_view.home(
            waiting,
            mine,
            decisions,
            tool_for=self._tool,
            link_for=lambda item: permalink(team_url, item.thread),
        )
        response = await client.views_publish(user_id=user, view=view)
        offered = [member(i.thread.id, i.call.call_id) for i in waiting[: home_view.MAX_WAITING]]
        published = PublishedHome(view_id=str(response["view"]["id"]), requests=offered)
        await self._redis.set(
            keys.home_view(user), published.model_dump_json(), ex=keys.HOME_VIEW_TTL
        )
        return response

    async def viewers(self, client: AsyncWebClient, thread: Thread, call: ToolCall) -> list[str]:
        """Whose Home shows request `call` (or did): its deciders, its requester and whoever
        voted, among the people who opened the Home tab before."""
        assert call.terms is not None
        directory = SlackDirectory(client, self._redis)
        people = set(await directory.members(call.terms.deciders))
        people.add(thread.requester_of(call.call_id))
        people |= {e.user for e in thread.about(call.call_id) if isinstance(e, ApprovalDecision)}
        ordered = sorted(people)
        seen = [await self._redis.exists(keys.home_view(p)) for p in ordered]
        return [p for p, there in zip(ordered, seen, strict=True) if there]

    async def _may_decide(self, directory: SlackDirectory, item: Listed, user: str) -> bool:
        assert item.call.terms is not None
        if item.call.intent != APPROVAL:
            return False
        deciders = item.call.terms.deciders
        allowed = await directory.members(deciders) if deciders else None
        return may_approve(
            user,
            requester=item.thread.requester_of(item.call.call_id),
            allowed=allowed,
            beneficiaries=self._beneficiaries(item),
        )

    async def _took_part(self, directory: SlackDirectory, item: Listed, user: str) -> bool:
        voted = any(
            isinstance(e, ApprovalDecision) and e.user == user
            for e in item.thread.about(item.call.call_id)
        )
        return voted or await self._may_decide(directory, item, user)

    def _beneficiaries(self, item: Listed) -> set[str]:
        agent = self._agents.get(item.thread.agent)
        try:
            gainer = agent.parse_action(dict(item.call.action)).beneficiary() if agent else None
        except ValueError:
            gainer = None
        return {gainer} if gainer else set()

    def _tool(self, item: Listed) -> type[BaseModel] | None:
        agent = self._agents.get(item.thread.agent)
        return agent.tool(item.call.action_intent) if agent else None

    async def _team(self, client: AsyncWebClient) -> str:
        if self._team_url is None:
            response = await client.auth_test()
            self._team_url = str(response["url"])
        return self._team_url


async def publish_home(home: HomeTab, client: AsyncWebClient, user: str) -> None:
    """Publish `user`'s Home when they open the tab, trying once more if Slack could not
    answer (5xx, timeout); after that they see it on their next visit or the next change."""
    for attempt in range(1 + OPEN_RETRIES):
        try:
            await home.publish(client, user)
            return
        except SlackApiError as exc:
            status = exc.response.status_code
            if status < 500 and status != 429:
                log.warning("views.publish for %s refused: %s", user, exc.response.get("error"))
                return
            log.info("views.publish for %s: HTTP %s (attempt %d)", user, status, attempt + 1)
        except (TimeoutError, aiohttp.ClientError, SlackClientError) as exc:
            log.info("views.publish for %s: %r (attempt %d)", user, exc, attempt + 1)
        await asyncio.sleep(OPEN_RETRY_DELAY)


async def offered(redis: Redis, *, user: str, view_id: str, ref: RequestRef) -> bool:
    """Whether view `view_id` is the Home the bot published for `user`, offering `ref`."""
    raw = await redis.get(keys.home_view(user))
    if raw is None:
        return False
    published = PublishedHome.model_validate(json.loads(raw))
    return published.view_id == view_id and (
        member(ref.thread_id, ref.call_id) in published.requests
    )


def permalink(team_url: str, thread: Thread) -> str:
    """A link to the thread, built as chat.getPermalink builds it from the workspace URL."""
    if thread.origin is None:
        return team_url
    ts = thread.origin.thread_ts.replace(".", "")
    return f"{team_url.rstrip('/')}/archives/{thread.origin.channel}/p{ts}"
