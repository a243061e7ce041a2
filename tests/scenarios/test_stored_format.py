"""Threads paused before the compact stored format resume after it: a thread hash holding the
thread as plain JSON (`json`) and delivery records as JSON, as every version before wrote
them, is approved in Slack, deploys once and is reported; its next save writes the compact
form and drops the old copy."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.store import ThreadStore, thread_id_for
from agents.runtime.thread import SlackOrigin, Status
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, DEPLOYS, BotProcess
from tests.support import approval_message, bot_replies, deployments, mention


async def _as_saved_before(redis: Redis, thread_id: str) -> None:
    """Rewrite the thread hash and its ledger as the format before compression had them."""
    thread = await ThreadStore(redis).load(thread_id)
    assert thread is not None
    key = keys.thread(thread_id)
    await redis.hset(key, "json", thread.model_dump_json())
    await redis.hdel(key, "z")
    ledger = keys.deliveries(thread_id)
    for field, value in (await redis.hgetall(ledger)).items():
        parts = value.decode().split(" ")
        if field.decode().count(".") == 1 and len(parts) == 4:  # a delivery record
            state, channel, ts, _at = parts
            old = {"state": state, "channel": channel} | ({"ts": ts} if ts != "-" else {})
            await redis.hset(ledger, field, json.dumps(old, separators=(",", ":")))


async def test_a_thread_paused_in_the_old_format_resumes(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))
    assert await redis.hexists(keys.thread(thread_id), "z")  # the new format is written
    await _as_saved_before(redis, thread_id)
    assert not await redis.hexists(keys.thread(thread_id), "z")

    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()

    assert await deployments(redis) == [("api", "1.4.2", "production")]
    assert "Deployed api 1.4.2 to production" in bot_replies(slack, DEPLOYS, root)[-1].text
    thread = await ThreadStore(redis).load(thread_id)
    assert thread is not None and thread.status is Status.DONE
    assert not await redis.hexists(keys.thread(thread_id), "json")  # saved again: compact
    assert slack.violations == []
