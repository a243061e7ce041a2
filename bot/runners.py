"""Long-running modes: HTTP, Socket Mode, worker only, and the local sandbox. Each runs until
SIGINT/SIGTERM and then stops its parts in order (no new requests, drain the worker, close)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from agents.runtime.types import Model
from bot.emulator.server import SlackEmulator
from bot.http import attach_worker
from bot.sandbox_state import SandboxState, published
from bot.services import ConfigError, Services, build_services
from bot.serving import RunningServer, free_port, start_server
from bot.settings import Settings
from bot.worker_process import WorkerProcess
from bot.worker_thread import WorkerThread

if TYPE_CHECKING:
    from fakeredis import TcpFakeServer

log = logging.getLogger(__name__)

SANDBOX_APPROVERS = frozenset({"U0BOB", "U0CAROL"})


def _require(settings: Settings, *names: str) -> None:
    missing = [name.upper() for name in names if not getattr(settings, name)]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} not set. See README (Connect it to Slack), "
            "or run `hitl sandbox` to try the bot locally."
        )


def _on_signal() -> asyncio.Event:
    """Set on SIGINT or SIGTERM; installed before a process says it is ready, so a signal sent
    right after that line stops it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until_signalled() -> None:
    await _on_signal().wait()


@contextlib.asynccontextmanager
async def _worker(services: Services, *, enabled: bool) -> AsyncIterator[None]:
    """Run a worker beside the Slack edge of `services`, never on its event loop: a child
    `hitl worker` process (bot/worker_process.py), or, when a model object was passed in
    (tests), a thread with its own loop and clients. /healthz reports it."""
    running: WorkerProcess | WorkerThread | None = None
    if enabled:
        model = services.model
        running = (
            WorkerThread(services.settings, model=model)
            if model
            else WorkerProcess(services.settings)
        )
    try:
        if running is not None:
            await running.start()
            metrics = running.metrics if isinstance(running, WorkerThread) else None
            attach_worker(services.http, health=running.health, metrics=metrics)
        yield
    finally:
        if running is not None:
            await running.stop()
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
    run = asyncio.create_task(services.worker.run())  # no web server: the main loop is free
    stop = _on_signal()
    log.info("worker %s taking jobs", services.queue.consumer)
    try:
        await stop.wait()
    finally:
        services.worker.stop()
        await run
        await services.close()


@dataclass(frozen=True)
class LocalRedis:
    """Where the sandbox's Redis listens; `in_memory` when it is the embedded fallback."""

    url: str
    in_memory: bool


IN_MEMORY_NOTICE = (
    "slack-hitl sandbox: redis-server is not installed, so an embedded in-memory Redis "
    "(fakeredis) stands in.\n  State is in memory only: it is lost when the sandbox stops. "
    "For state under {data_dir}, install redis-server (apt-get install -y redis-server)."
)


@contextlib.asynccontextmanager
async def local_redis(data_dir: Path) -> AsyncIterator[LocalRedis]:
    """A redis-server from PATH on a free port, its data (AOF) under `data_dir`; without one,
    an embedded in-memory Redis, announced on stdout."""
    exe = shutil.which("redis-server")
    if exe is None:
        print(IN_MEMORY_NOTICE.format(data_dir=data_dir), flush=True)
        async with embedded_redis() as url:
            yield LocalRedis(url, in_memory=True)
        return
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
        yield LocalRedis(url, in_memory=False)
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


@contextlib.asynccontextmanager
async def embedded_redis() -> AsyncIterator[str]:
    """An in-memory Redis (fakeredis) on a free port, served by a thread of this process."""
    server = embedded_redis_server()
    thread = threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.server_address[1]}/0"
    finally:
        server.shutdown()
        server.server_close()
        await asyncio.to_thread(thread.join)


def embedded_redis_server() -> TcpFakeServer:
    """fakeredis's Redis-protocol TCP server on 127.0.0.1 and a free port, not yet serving."""
    from fakeredis import TcpFakeServer
    from fakeredis._clients._tcp_server import TCPFakeRequestHandler

    class Handler(TCPFakeRequestHandler):
        # fakeredis (2.40) drops the connection after any error reply (BUSYGROUP, NOSCRIPT...),
        # which real Redis does not: hand such replies to the client as values instead.
        def setup(self) -> None:
            super().setup()
            read = self.current_client.read_response

            def read_response(**options: Any) -> Any:
                try:
                    return read(**options)
                except ResponseError as e:
                    return e

            self.current_client.read_response = read_response  # type: ignore[method-assign]

    server = TcpFakeServer(("127.0.0.1", 0))
    server.RequestHandlerClass = Handler
    return server


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


@dataclass
class Sandbox:
    """A running sandbox: the Slack emulator and the bot (HTTP + worker) pointed at it."""

    emulator: SlackEmulator
    services: Services
    server: RunningServer


@contextlib.asynccontextmanager
async def sandbox_stack(
    settings: Settings,
    *,
    redis_url: str,
    port: int = 0,
    model: Model | None = None,
    retries: bool = True,
    state_dir: Path | None = None,
) -> AsyncIterator[Sandbox]:
    """The Slack emulator with its web UI on `port`, and the bot in HTTP mode with a worker,
    pointed at it and at `redis_url`; stopped in order on exit. Used by `sandbox` and tests.
    `state_dir`: where the emulator keeps its workspace across restarts (None: memory)."""
    secret = secrets.token_hex(16)
    emulator = SlackEmulator(signing_secret=secret, retries=retries, state_dir=state_dir)
    await emulator.start(port=port)
    try:
        local = settings.model_copy(
            update={
                "slack_bot_token": emulator.identity.bot_token,
                "slack_signing_secret": secret,
                "slack_api_url": emulator.api_url,
                "redis_url": redis_url,
                "hitl_approvers": settings.hitl_approvers or SANDBOX_APPROVERS,
            }
        )
        services = build_services(local, model=model)
        await services.queue.setup()
        async with _worker(services, enabled=True):
            server = await start_server(services.http)
            emulator.events_url = f"{server.url}/slack/events"
            try:
                yield Sandbox(emulator=emulator, services=services, server=server)
            finally:
                await server.stop()
    finally:
        await emulator.stop()


async def sandbox(settings: Settings, *, port: int, data_dir: Path) -> None:
    """Slack emulator with its web UI, the bot in HTTP mode pointed at it, a local Redis.
    With redis-server installed, both keep their state under `data_dir` across restarts."""
    # The thread API needs a token; a sandbox makes one unless the operator set their own.
    api_token = settings.hitl_api_token or secrets.token_urlsafe(24)
    settings = settings.model_copy(update={"hitl_api_token": api_token})
    async with local_redis(data_dir / "redis") as redis:
        # An emulator that outlives an in-memory Redis would show approvals nobody can act on.
        state_dir = None if redis.in_memory else data_dir
        async with sandbox_stack(
            settings, redis_url=redis.url, port=port, state_dir=state_dir
        ) as running:
            state = SandboxState(
                pid=os.getpid(),
                redis_url=redis.url,
                slack_api_url=running.emulator.api_url,
                slack_bot_token=running.emulator.identity.bot_token,
                api_url=f"{running.server.url}/api",
                api_token=api_token,
            )
            # Published once ready, so `hitl threads ...` in another terminal finds it.
            with published(state):
                _announce(running, redis, data_dir, state)
                await _until_signalled()


def _announce(running: Sandbox, redis: LocalRedis, data_dir: Path, state: SandboxState) -> None:
    where = "in memory (embedded)" if redis.in_memory else f"{redis.url}, data in {data_dir}"
    print(
        f"slack-hitl sandbox: open {running.emulator.url} in a browser.\n"
        "  Try: @bot deploy api 1.4.2 to production  (in #deploys, as alice),\n"
        "  then switch to bob and click Approve.\n"
        f"  Thread API: {state.api_url}  (Authorization: Bearer {state.api_token})\n"
        "  `hitl threads list` in another terminal finds this sandbox by itself.\n"
        f"  Model: {running.services.settings.llm_provider}. Redis: {where}. Ctrl-C stops.",
        flush=True,
    )
