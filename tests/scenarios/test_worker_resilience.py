"""Redis stopped and started again under a running bot (HTTP edge plus its in-process worker on
its own thread): the worker outlives outages short and long, says so once each time, /healthz
answers 503 meanwhile, and a mention sent afterwards is handled. Real redis-server, restarted
without persistence, so the job stream and its consumer group come back missing."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import httpx
import pytest

from bot.emulator.server import SlackEmulator
from bot.http import attach_worker
from bot.serving import free_port
from bot.settings import Settings
from bot.worker_process import WorkerProcess, settings_env
from bot.worker_thread import WorkerThread
from tests.conftest import DEPLOYS, MakeBot
from tests.redis_servers import redis_process
from tests.support import bot_replies, mention


async def health_until(url: str, status: int, *, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            response = await client.get(url)
            if response.status_code == status or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.1)


def worker_lines(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "agents.runtime.worker" and text in r.getMessage()
    ]


@pytest.mark.parametrize("outage", [1.0, pytest.param(10.0, marks=pytest.mark.slow)])
async def test_the_worker_outlives_a_redis_outage_and_healthz_tells(
    outage: float,
    slack: SlackEmulator,
    make_bot: MakeBot,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agents.runtime.worker")
    port = free_port()
    with redis_process(tmp_path / "before", "--appendonly", "no", port=port):
        bot = await make_bot(redis_url=f"redis://127.0.0.1:{port}/0")
        worker = WorkerThread(bot.services.settings)
        await worker.start()
        attach_worker(bot.services.http, health=worker.health, metrics=worker.metrics)
        healthz = f"{bot.server.url}/healthz"
        assert (await health_until(healthz, 200, within=5)).json() == {"ok": True}
        first = await mention(slack, "deploy web 2.0.1 to staging")
        await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, first)), timeout=10)
    stopped = time.monotonic()
    try:
        during = await health_until(healthz, 503, within=outage)
        assert during.status_code == 503
        assert during.json()["ok"] is False and during.json()["redis"] == "unreachable"
        assert "127.0.0.1" not in during.text and str(port) not in during.text
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - stopped)))

        with redis_process(tmp_path / "after", "--appendonly", "no", port=port):
            after = await health_until(healthz, 200, within=15)
            assert after.status_code == 200, after.text
            second = await mention(slack, "deploy api 1.4.2 to staging")
            await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, second)), timeout=15)
            assert "Deployed api 1.4.2" in bot_replies(slack, DEPLOYS, second)[-1].text
            assert worker.health().ok
            await worker.stop()  # drains while Redis is up
    finally:
        await worker.stop()

    warnings = worker_lines(caplog, "Redis unavailable")
    backs = worker_lines(caplog, "Redis is back after")
    # A short outage may hide inside the client's own retries; a long one never does.
    assert len(warnings) <= 1 and len(backs) == len(warnings)
    if outage >= 5:
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert worker.health().worker == "not running"


async def test_healthz_is_503_when_the_worker_loop_is_not_running(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot()
    worker = WorkerThread(bot.services.settings)
    await worker.start()
    attach_worker(bot.services.http, health=worker.health, metrics=worker.metrics)
    healthz = f"{bot.server.url}/healthz"
    assert (await health_until(healthz, 200, within=5)).status_code == 200
    await worker.stop()

    response = await health_until(healthz, 503, within=5)
    assert response.status_code == 503
    assert response.json() == {"ok": False, "redis": "ok", "worker": "not running"}


async def test_the_in_process_worker_is_a_child_process_that_drains_on_stop(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot()
    worker = WorkerProcess(bot.services.settings)
    await worker.start()
    attach_worker(bot.services.http, health=worker.health, metrics=None)
    healthz = f"{bot.server.url}/healthz"
    try:
        assert (await health_until(healthz, 200, within=5)).json() == {"ok": True}
        root = await mention(slack, "deploy web 2.0.1 to staging")
        await slack.wait_for(lambda: bool(bot_replies(slack, DEPLOYS, root)), timeout=20)
        assert "Deployed web 2.0.1" in bot_replies(slack, DEPLOYS, root)[-1].text
    finally:
        await worker.stop()
    assert worker._proc is not None and worker._proc.returncode == 0
    after = await health_until(healthz, 503, within=5)
    assert after.json() == {"ok": False, "redis": "ok", "worker": "not running"}


def test_a_child_process_reads_the_settings_of_its_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HITL_API_TOKEN", "from-the-environment")
    settings = Settings(
        slack_signing_secret="s",
        hitl_approvers=frozenset({"U1", "U2"}),
        hitl_resource_owners={"billing-db": "U0DBA", "analytics": "S0DATA"},
        hitl_api_token=None,
        hitl_lease_ms=1234,
        hitl_policy_file=Path("/tmp/policy.yml"),
    )
    env = settings_env(settings)
    assert "HITL_API_TOKEN" not in env  # set in code to None: not inherited either
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings
