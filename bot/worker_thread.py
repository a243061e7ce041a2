"""A worker on a thread of its own with its own event loop and clients, for a process that also
answers Slack and was handed a model object (tests), which a child process could not share.
Otherwise bot/worker_process.py runs the worker: threads share the GIL, so a busy worker thread
still slows the web server's acks (bench/worker_acks.py)."""

from __future__ import annotations

import asyncio
import logging
import threading

from agents.runtime.metrics import Metrics
from agents.runtime.types import Model
from agents.runtime.worker_health import WorkerHealth
from bot.services import Services, build_services
from bot.settings import Settings

log = logging.getLogger(__name__)


class WorkerThread:
    """`start()` builds a second set of services (clients bound to the new loop) and runs their
    worker; `stop()` lets the jobs in hand finish, closes the clients and joins the thread."""

    def __init__(self, settings: Settings, *, model: Model | None = None) -> None:
        self._settings = settings
        self._model = model  # a model passed in (tests) is shared; one from settings is not
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._services: Services | None = None
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="hitl-worker", daemon=True)

    async def start(self) -> None:
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._failed is not None:
            raise self._failed

    async def stop(self) -> None:
        loop, services = self._loop, self._services
        if loop is not None and services is not None and not loop.is_closed():
            loop.call_soon_threadsafe(services.worker.stop)
        await asyncio.to_thread(self._thread.join)

    def health(self) -> WorkerHealth:
        """The worker's own account, or "not running" once its thread has ended."""
        if self._services is None or not self._thread.is_alive():
            return WorkerHealth(ok=False, redis="unknown", worker="not running")
        return self._services.worker.health()

    @property
    def metrics(self) -> Metrics | None:
        return self._services.metrics if self._services is not None else None

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced by start(), or logged: the thread must end
            self._failed = exc
            log.exception("the worker thread ended")
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        services = build_services(self._settings, model=self._model)
        self._loop, self._services = asyncio.get_running_loop(), services
        try:
            run = asyncio.create_task(services.worker.run())
            await asyncio.sleep(0)  # run() counts as running from its first line on
            self._ready.set()
            await run
        finally:
            await services.close()
