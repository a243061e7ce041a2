"""Message metadata and reading messages back (conversations.history / .replies, paged)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.metadata import Metadata
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator.server import SlackEmulator

DEPLOYS = "C0DEPLOYS"
TAG = {"event_type": "hitl_delivery", "event_payload": {"delivery_id": "d-1"}}


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret="s")
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-sandbox", base_url=emu.api_url)


async def test_metadata_round_trips_through_replies_and_history(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    root = await client.chat_postMessage(channel=DEPLOYS, text="root", metadata=TAG)
    assert root["message"]["metadata"] == TAG
    typed = Metadata(event_type="hitl_delivery", event_payload={"delivery_id": "d-2"})
    reply = await client.chat_postMessage(
        channel=DEPLOYS, text="reply", thread_ts=root["ts"], metadata=typed
    )
    assert emu.find_message(DEPLOYS, reply["ts"]).metadata == typed.to_dict()

    replies = await client.conversations_replies(
        channel=DEPLOYS, ts=root["ts"], include_all_metadata=True
    )
    assert [m.get("metadata") for m in replies["messages"]] == [TAG, typed.to_dict()]
    history = await client.conversations_history(channel=DEPLOYS, include_all_metadata=True)
    assert [m["metadata"] for m in history["messages"]] == [TAG]

    # Without include_all_metadata Slack leaves it out.
    plain = await client.conversations_replies(channel=DEPLOYS, ts=root["ts"])
    assert all("metadata" not in m for m in plain["messages"])


async def test_update_keeps_replaces_or_removes_metadata(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=DEPLOYS, text="v1", metadata=TAG)
    stored = emu.find_message(DEPLOYS, posted["ts"])
    await client.chat_update(channel=DEPLOYS, ts=posted["ts"], text="v2")
    assert stored.metadata == TAG
    other = {"event_type": "hitl_delivery", "event_payload": {"delivery_id": "d-9"}}
    await client.chat_update(channel=DEPLOYS, ts=posted["ts"], text="v3", metadata=other)
    assert stored.metadata == other
    await client.chat_update(channel=DEPLOYS, ts=posted["ts"], text="v4", metadata={})
    assert stored.metadata is None


@pytest.mark.parametrize(
    ("metadata", "error"),
    [({"event_type": "x"}, "invalid_metadata_schema"), ("not json", "invalid_metadata_format")],
)
async def test_bad_metadata_is_refused(client: AsyncWebClient, metadata: Any, error: str) -> None:
    with pytest.raises(SlackApiError, match=error):
        await client.chat_postMessage(channel=DEPLOYS, text="x", metadata=metadata)


async def test_history_is_newest_first_top_level_and_paged(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    tss = [(await client.chat_postMessage(channel=DEPLOYS, text=f"m{i}"))["ts"] for i in range(5)]
    await client.chat_postMessage(channel=DEPLOYS, text="hidden reply", thread_ts=tss[0])
    shown = await client.chat_postMessage(
        channel=DEPLOYS, text="broadcast", thread_ts=tss[0], reply_broadcast=True
    )
    await client.chat_postMessage(channel="C0GENERAL", text="other channel")

    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await client.conversations_history(channel=DEPLOYS, limit=2, cursor=cursor)
        pages.append([m["text"] for m in page["messages"]])
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] == bool(cursor)
        if not cursor:
            break
    assert pages == [["broadcast", "m4"], ["m3", "m2"], ["m1", "m0"]]
    assert emu.find_message(DEPLOYS, shown["ts"]).subtype == "thread_broadcast"

    between = await client.conversations_history(channel=DEPLOYS, oldest=tss[1], latest=tss[3])
    assert [m["text"] for m in between["messages"]] == ["m2"]
    inclusive = await client.conversations_history(
        channel=DEPLOYS, oldest=tss[1], latest=tss[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]


async def test_replies_are_paged_oldest_first(client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel=DEPLOYS, text="root")
    for i in range(4):
        await client.chat_postMessage(channel=DEPLOYS, text=f"r{i}", thread_ts=root["ts"])
    first = await client.conversations_replies(channel=DEPLOYS, ts=root["ts"], limit=3)
    assert [m["text"] for m in first["messages"]] == ["root", "r0", "r1"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_replies(channel=DEPLOYS, ts=root["ts"], cursor=cursor)
    assert [m["text"] for m in rest["messages"]] == ["r2", "r3"]
    assert rest["has_more"] is False and rest["response_metadata"]["next_cursor"] == ""


async def test_bad_cursor_and_unknown_channel_are_refused(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError, match="invalid_cursor"):
        await client.conversations_history(channel=DEPLOYS, cursor="bm9wZQ==")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await client.conversations_history(channel="C0NOPE")
