"""The whole approval path on a real 3-node Redis Cluster: every key of one operation shares a
hash slot, so scripts and compare-and-set saves work there as on one server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from agents.runtime.connect import redis_from_url
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MakeBot
from tests.support import approval_message, bot_replies, deployments


@pytest.fixture
async def cluster(cluster_url: str) -> AsyncIterator[Redis]:
    client = redis_from_url(cluster_url)
    await client.flushall()
    yield client
    await client.aclose()


async def test_an_approval_runs_once_on_a_cluster(
    slack: SlackEmulator, make_bot: MakeBot, cluster: Redis, cluster_url: str
) -> None:
    first, second = await make_bot(redis_url=cluster_url), await make_bot(redis_url=cluster_url)
    text = f"<@{slack.identity.bot_user_id}> deploy api 1.4.2 to production"
    delivery = await slack.post_message(user=ALICE, channel=DEPLOYS, text=text)
    root = delivery.message.ts
    # Slack retries the mention; the dedupe keys live in the job stream's slot.
    body = delivery.responses[0].request.content.decode()
    retried = await slack.deliver(
        body, content_type="application/json", headers={"X-Slack-Retry-Num": "1"}
    )
    assert retried.status_code == 200
    await first.settle()
    approval = approval_message(slack, DEPLOYS, root)

    clicks = [
        slack.click(user=u, message=approval, action_id="hitl_approve") for u in (BOB, CAROL) * 5
    ]
    await asyncio.gather(*clicks)
    await asyncio.gather(first.settle(), second.settle())

    assert await deployments(cluster) == [("api", "1.4.2", "production")]
    assert "Deployed api 1.4.2 to production" in bot_replies(slack, DEPLOYS, root)[-1].text
    assert len(slack.ephemerals) == 9
    # Settling the request cancelled its reminder and expiry.
    assert await Deadlines(cluster).fire_due(utcnow() + timedelta(days=2)) == 0
    assert len(bot_replies(slack, DEPLOYS, root)) == 2
