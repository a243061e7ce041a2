"""Run an ASGI app on uvicorn inside the current event loop (HTTP mode, the sandbox, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningServer:
    """A uvicorn server started by `start_server`; `url` has no trailing slash."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def start_server(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving `app`; port 0 picks a free port. Returns once the socket is listening."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="auto")
    server = uvicorn.Server(config)
    # uvicorn captures SIGINT/SIGTERM in serve(); the caller owns signals here.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # re-raises a bind error
            raise RuntimeError("server stopped before it started")
        await asyncio.sleep(0.005)
    sockets = [s for srv in server.servers for s in srv.sockets]
    bound_port = sockets[0].getsockname()[1]
    return RunningServer(server=server, task=task, host=host, port=bound_port)


def free_port() -> int:
    """A port nothing listens on right now (for child processes that need one up front)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
