"""Injected failures (fail, stall, refuse, rate_limit) as the real slack_sdk client sees them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator.server import SlackEmulator

DEPLOYS, GENERAL = "C0DEPLOYS", "C0GENERAL"


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret="s")
    await emulator.start()
    yield emulator
    await emulator.stop()


def client(emu: SlackEmulator, *, timeout: int = 30) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-sandbox", base_url=emu.api_url, timeout=timeout)


def texts(emu: SlackEmulator) -> list[str]:
    return [m.text for m in emu.messages]


async def test_fail_answers_500_once_and_does_nothing(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage")
    with pytest.raises(SlackApiError) as failed:
        await client(emu).chat_postMessage(channel=DEPLOYS, text="first")
    assert failed.value.response.status_code == 500
    assert failed.value.response["error"] == "internal_error"
    assert texts(emu) == []
    await client(emu).chat_postMessage(channel=DEPLOYS, text="second")
    assert texts(emu) == ["second"]
    assert [c.fault for c in emu.calls_to("chat.postMessage")] == ["fail 500", None]


async def test_a_gateway_error_has_a_body_that_is_not_json(emu: SlackEmulator) -> None:
    emu.fail("chat.update", status=503)
    posted = await client(emu).chat_postMessage(channel=DEPLOYS, text="v1")
    with pytest.raises(SlackApiError) as failed:
        await client(emu).chat_update(channel=DEPLOYS, ts=posted["ts"], text="v2")
    assert failed.value.response.status_code == 503
    assert texts(emu) == ["v1"]


async def test_fail_after_the_work_leaves_the_message_posted(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", after=True)
    with pytest.raises(SlackApiError):
        await client(emu).chat_postMessage(channel=DEPLOYS, text="posted anyway")
    assert texts(emu) == ["posted anyway"]
    (call,) = emu.calls_to("chat.postMessage")
    assert call.fault == "fail 500 after"
    assert call.response["ok"] is True  # what Slack did, though it answered an error


async def test_faults_match_channel_repeat_with_times_none_and_clear(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", times=None, channel=DEPLOYS)
    for _ in range(3):
        with pytest.raises(SlackApiError):
            await client(emu).chat_postMessage(channel=DEPLOYS, text="no")
    await client(emu).chat_postMessage(channel=GENERAL, text="elsewhere")
    emu.clear_faults()
    await client(emu).chat_postMessage(channel=DEPLOYS, text="yes")
    assert texts(emu) == ["elsewhere", "yes"]


async def test_rules_are_consumed_in_order(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", status=502)
    emu.refuse("chat.postMessage", "is_archived", times=1)
    emu.rate_limit("chat.postMessage", retry_after=7)
    answers = []
    for _ in range(4):
        try:
            await client(emu).chat_postMessage(channel=DEPLOYS, text="x")
            answers.append("ok")
        except SlackApiError as e:
            answers.append(f"{e.response.status_code} {e.response.get('error', '')}".strip())
    assert answers == ["502", "200 is_archived", "429 ratelimited", "ok"]
    assert emu.calls_to("chat.postMessage")[2].fault == "rate_limit 7s"


@pytest.mark.parametrize(
    "error",
    ["invalid_blocks", "msg_too_long", "not_in_channel", "channel_not_found", "is_archived"],
)
async def test_refuse_answers_slacks_error_every_time(emu: SlackEmulator, error: str) -> None:
    emu.refuse("chat.postMessage", error)
    for _ in range(2):
        with pytest.raises(SlackApiError) as refused:
            await client(emu).chat_postMessage(channel=DEPLOYS, text="x")
        assert refused.value.response.status_code == 200
        assert refused.value.response["error"] == error
    assert texts(emu) == []
    assert [c.fault for c in emu.calls] == [f"refuse {error}"] * 2


async def test_refuse_update_with_message_not_found(emu: SlackEmulator) -> None:
    posted = await client(emu).chat_postMessage(channel=DEPLOYS, text="v1")
    emu.refuse("chat.update", "message_not_found", channel=DEPLOYS)
    with pytest.raises(SlackApiError, match="message_not_found"):
        await client(emu).chat_update(channel=DEPLOYS, ts=posted["ts"], text="v2")
    assert texts(emu) == ["v1"]


async def test_a_stall_past_the_client_timeout_leaves_nothing_done(emu: SlackEmulator) -> None:
    emu.stall("chat.postMessage", seconds=1.5)
    with pytest.raises(asyncio.TimeoutError):
        await client(emu, timeout=1).chat_postMessage(channel=DEPLOYS, text="lost")
    await emu.wait_for(lambda: bool(emu.calls), timeout=5)
    assert texts(emu) == []
    assert emu.calls[0].fault == "stall 1.5s, not done"


async def test_a_stall_after_the_work_leaves_the_message_posted(emu: SlackEmulator) -> None:
    emu.stall("chat.postMessage", seconds=3, after=True)
    with pytest.raises(asyncio.TimeoutError):
        await client(emu, timeout=1).chat_postMessage(channel=DEPLOYS, text="posted")
    assert texts(emu) == ["posted"]
    assert emu.calls[0].fault == "stall 3s after"


async def test_a_patient_client_gets_a_late_answer(emu: SlackEmulator) -> None:
    emu.stall("chat.postMessage", seconds=0.5)
    started = time.monotonic()
    posted = await client(emu, timeout=10).chat_postMessage(channel=DEPLOYS, text="slow")
    assert time.monotonic() - started >= 0.5
    assert posted["ok"] and texts(emu) == ["slow"]


async def test_stop_cuts_a_stall_short() -> None:
    emu = SlackEmulator(signing_secret="s")
    await emu.start()
    emu.stall("chat.postMessage", seconds=60, after=True)
    call = asyncio.create_task(client(emu).chat_postMessage(channel=DEPLOYS, text="x"))
    await emu.wait_for(lambda: bool(emu.calls))
    started = time.monotonic()
    await emu.stop()
    assert time.monotonic() - started < 5
    assert (await call)["ok"]


def test_fault_arguments_are_checked() -> None:
    emu = SlackEmulator(signing_secret="s")
    with pytest.raises(ValueError, match="5xx"):
        emu.fail("chat.postMessage", status=404)
    with pytest.raises(ValueError, match="times"):
        emu.refuse("chat.postMessage", "is_archived", times=0)
