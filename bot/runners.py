"""Long-running modes: HTTP, Socket Mode, worker only, and the local sandbox. Each runs until
SIGINT/SIGTERM and then stops its parts in order (no new requests, drain the worker, close)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.emulator import SlackEmulator
from bot.services import ConfigError, Services, build_services
from bot.serving import free_port, start_server
from bot.settings import Settings

log = logging.getLogger(__name__)

SANDBOX_APPROVERS = frozenset({"U0BOB", "U0CAROL"})


def _require(settings: Settings, *names: str) -> None:
    missing = [name.upper() for name in names if not getattr(settings, name)]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} not set. See README (Connect it to Slack), "
            "or run `hitl sandbox` to try the bot locally."
        )


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


@contextlib.asynccontextmanager
async def _worker(services: Services, *, enabled: bool) -> AsyncIterator[None]:
    task = asyncio.create_task(services.worker.run()) if enabled else None
    try:
        yield
    finally:
        services.worker.stop()
        if task is not None:
            await task
        await services.close()


async def serve(settings: Settings, *, host: str, port: int, with_worker: bool) -> None:
    _require(settings, "slack_bot_token", "slack_signing_secret")
    services = build_services(settings)
    await services.queue.setup()
    async with _worker(services, enabled=with_worker):
        server = await start_server(services.http, host=host, port=port)
        log.info("listening on %s (POST /slack/events, GET /healthz)", server.url)
        await _until_signalled()
        await server.stop()


async def socket_mode(settings: Settings, *, with_worker: bool) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    _require(settings, "slack_bot_token", "slack_signing_secret", "slack_app_token")
    services = build_services(settings)
    await services.queue.setup()
    async with _worker(services, enabled=with_worker):
        handler = AsyncSocketModeHandler(services.bolt, settings.slack_app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
        await _until_signalled()
        await handler.close_async()  # type: ignore[no-untyped-call]


async def worker(settings: Settings) -> None:
    services = build_services(settings)
    async with _worker(services, enabled=True):
        log.info("worker %s taking jobs", services.queue.consumer)
        await _until_signalled()


@contextlib.asynccontextmanager
async def local_redis(data_dir: Path) -> AsyncIterator[str]:
    """A redis-server from PATH on a free port, its data (AOF) under `data_dir`."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError("redis-server is not installed: apt-get install -y redis-server")
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    proc = await asyncio.create_subprocess_exec(
        exe,
        *args,
        "--appendonly",
        "yes",
        "--save",
        "",
        stdout=asyncio.subprocess.DEVNULL,
        # Its own session: Ctrl-C reaches only us, and we stop Redis after the worker drained.
        start_new_session=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        await _wait_for_redis(url, proc)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


async def _wait_for_redis(url: str, proc: asyncio.subprocess.Process) -> None:
    client = Redis.from_url(url)
    try:
        for _ in range(200):
            if proc.returncode is not None:
                raise ConfigError(f"redis-server exited with code {proc.returncode}")
            try:
                await client.ping()
                return
            except RedisError:
                await asyncio.sleep(0.05)
        raise ConfigError(f"redis-server did not answer on {url}")
    finally:
        await client.aclose()


async def sandbox(settings: Settings, *, port: int, data_dir: Path) -> None:
    """Slack emulator with its web UI, the bot in HTTP mode pointed at it, a local Redis."""
    secret = secrets.token_hex(16)
    async with local_redis(data_dir / "redis") as redis_url:
        emulator = SlackEmulator(signing_secret=secret)
        await emulator.start(port=port)
        local = settings.model_copy(
            update={
                "slack_bot_token": emulator.identity.bot_token,
                "slack_signing_secret": secret,
                "slack_api_url": emulator.api_url,
                "redis_url": redis_url,
                "hitl_approvers": settings.hitl_approvers or SANDBOX_APPROVERS,
            }
        )
        services = build_services(local)
        await services.queue.setup()
        async with _worker(services, enabled=True):
            server = await start_server(services.http)
            emulator.events_url = f"{server.url}/slack/events"
            print(
                f"slack-hitl sandbox: open {emulator.url} in a browser.\n"
                "  Try: @bot deploy api 1.4.2 to production  (in #deploys, as alice),\n"
                "  then switch to bob and click Approve.\n"
                f"  Model: {local.llm_provider}. Ctrl-C stops.",
                flush=True,
            )
            await _until_signalled()
            await server.stop()
        await emulator.stop()
