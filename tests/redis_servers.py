"""Real redis-server processes for tests: a plain server, a 3-node cluster, a sentinel."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from redis import Redis as SyncRedis

from bot.serving import free_port


def redis_server_exe() -> str:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    return exe


def wait_until_up(port: int, *, timeout: float = 10) -> None:
    client = SyncRedis(port=port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


@contextmanager
def redis_process(workdir: Path, *args: str, port: int | None = None) -> Iterator[int]:
    """A redis-server on a free port with its files in `workdir`; stopped on exit."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            redis_server_exe(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            *args,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def redis_cluster(workdir: Path, *, nodes: int = 3) -> Iterator[list[int]]:
    """A Redis Cluster of `nodes` masters, no replicas."""
    ports = [_cluster_port() for _ in range(nodes)]
    with ExitStack() as stack:
        for port in ports:
            stack.enter_context(
                redis_process(
                    workdir / str(port),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--appendonly",
                    "no",
                    port=port,
                )
            )
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (it comes with redis-server)")
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _wait_for_slots(ports[0])
        yield ports


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is a valid port too."""
    while (port := free_port()) > 55_000:
        pass
    return port


def _wait_for_slots(port: int, *, timeout: float = 15) -> None:
    client = SyncRedis(port=port)
    deadline = time.monotonic() + timeout
    try:
        while client.cluster("info").get("cluster_state") != "ok":  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not become ok")
            time.sleep(0.1)
    finally:
        client.close()
