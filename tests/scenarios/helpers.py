"""Small readers over what the emulator recorded."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.reconciler import needs_work
from agents.runtime.store import ThreadStore
from bot.emulator.server import Message, SlackEmulator


def has_buttons(message: Message) -> bool:
    return any(block.get("type") == "actions" for block in message.blocks)


def shown_text(message: Message) -> str:
    """Everything a person reads in a message: fallback text plus all block text."""
    parts = [message.text or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                parts.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return "\n".join(parts)


def bot_replies(slack: SlackEmulator, channel: str, thread_ts: str) -> list[Message]:
    return [m for m in slack.thread(channel, thread_ts) if m.bot_id is not None]


def approval_message(slack: SlackEmulator, channel: str, thread_ts: str) -> Message:
    found = [m for m in bot_replies(slack, channel, thread_ts) if has_buttons(m)]
    assert len(found) == 1, f"expected one approval message, got {len(found)}"
    return found[0]


async def reject(slack: SlackEmulator, *, user: str, message: Message, reason: str) -> None:
    """Click Reject and submit the reason modal it opens."""
    await slack.click(user=user, message=message, action_id="hitl_reject")
    await slack.wait_for(lambda: bool(slack.open_views(user)))
    (modal,) = slack.open_views(user)
    response = await slack.submit_view(user=user, view=modal, values={"reason": {"reason": reason}})
    assert response.status_code == 200


async def redis_snapshot(redis: Redis) -> dict[bytes, bytes | None]:
    """Every key and its serialized value, to prove a request changed nothing."""
    return {key: await redis.dump(key) for key in sorted(await redis.keys("*"))}


async def unaccounted_threads(redis: Redis) -> list[str]:
    """Threads that break the invariant once workers are idle: each must be waiting on people,
    done, paused or stopped with everything shown to people, or have a job planned for it."""
    planned = {
        member.decode() if isinstance(member, bytes) else member
        for member in await redis.zrange(keys.deadlines(), 0, -1)
    }
    store = ThreadStore(redis)
    return [
        f"{state.thread_id} {state.status} undelivered={state.undelivered}"
        async for state in store.states()
        if needs_work(state) and not any(state.thread_id in job for job in planned)
    ]
