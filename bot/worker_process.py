"""The worker of a process that also answers Slack (`hitl serve`, `hitl socket`, the sandbox)
runs as a child `hitl worker` process. A second event loop in a thread was not enough: both
threads share the GIL, and with 300 running threads acks took seconds either way, while a child
process kept them at milliseconds (bench/worker_acks.py). SIGTERM drains it like any worker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from agents.runtime.worker_health import WorkerHealth
from bot.settings import Settings


def settings_env(settings: Settings) -> dict[str, str]:
    """This process's environment with `settings` written over it, so a child process reads
    the same settings (even ones changed in code, as the sandbox does)."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[name.upper()] = _env_value(value)
    return env


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset | set):
        return ",".join(sorted(str(v) for v in value))
    if isinstance(value, list | tuple):  # HITL_AGENTS: the order is the routing order
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):  # HITL_RESOURCE_OWNERS: name=owner,name=owner
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


class WorkerProcess:
    """`start()` runs `python -m bot worker` with these settings; `stop()` sends SIGTERM and
    waits while it lets the jobs in hand finish."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "worker", env=settings_env(self._settings)
        )

    async def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
        await self._proc.wait()

    def health(self) -> WorkerHealth:
        """Running or not; Redis itself is checked by /healthz."""
        if self._proc is None or self._proc.returncode is not None:
            return WorkerHealth(ok=False, redis="ok", worker="not running")
        return WorkerHealth(ok=True, redis="ok", worker="running")
