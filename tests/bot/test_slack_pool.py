"""One aiohttp session per process for the Slack Web API: calls reuse kept-alive connections
(slack_sdk alone opens a session, so a TCP connection, per call), at most
HITL_HTTP_CONNECTIONS at once, and the session closes with the services. Counted from the
kernel's socket table, so what is measured is connections, not our bookkeeping."""

from __future__ import annotations

import asyncio
import threading

from bench.fanout import emulator_connections
from bot.emulator.server import SlackEmulator
from bot.settings import Settings
from tests.conftest import DEPLOYS, MakeBot


def port_of(slack: SlackEmulator) -> int:
    return int(slack.api_url.split(":")[2].split("/")[0])


async def test_thirty_calls_one_after_another_use_one_connection(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot()
    before = emulator_connections(port_of(slack))

    for i in range(30):
        await bot.services.client.chat_postMessage(channel=DEPLOYS, text=f"note {i}")

    assert emulator_connections(port_of(slack)) - before == 1
    assert len(slack.calls_to("chat.postMessage")) == 30


async def test_calls_at_once_open_no_more_connections_than_the_setting(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_http_connections=4)
    before = emulator_connections(port_of(slack))

    await asyncio.gather(
        *(bot.services.client.chat_postMessage(channel=DEPLOYS, text=f"n{i}") for i in range(40))
    )

    assert 1 <= emulator_connections(port_of(slack)) - before <= 4
    assert len(slack.calls_to("chat.postMessage")) == 40


async def test_the_session_closes_with_the_services(make_bot: MakeBot) -> None:
    bot = await make_bot()
    await bot.services.client.auth_test()
    session = bot.services.client.session
    assert session is not None and not session.closed

    await bot.stop()

    assert session.closed


async def test_a_call_from_another_event_loop_gets_a_session_of_its_own(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot()
    client = bot.services.client
    await client.auth_test()  # the shared session now belongs to this loop
    answers: list[object] = []

    def elsewhere() -> None:
        answers.append(asyncio.run(client.auth_test())["ok"])

    thread = threading.Thread(target=elsewhere)
    thread.start()
    await asyncio.to_thread(thread.join)

    assert answers == [True]
    await client.auth_test()  # the shared one still works here


def test_the_pool_is_as_large_as_the_worker_concurrency_unless_set() -> None:
    assert Settings(hitl_worker_concurrency=300).http_connections == 300
    assert Settings(hitl_worker_concurrency=300, hitl_http_connections=50).http_connections == 50
