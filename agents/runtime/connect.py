"""One place that turns REDIS_URL into a client. Supported forms:

  redis://[:password@]host:port/db          a server (rediss:// for TLS)
  redis+cluster://host:port                 a Redis Cluster, any node as the seed (rediss+cluster)
  redis+sentinel://host:port,host:port/name[/db]   the master `name` found through Sentinel

Every key of one thread shares a hash slot, so everything the bot does works on a cluster.
Dropped connections are retried with backoff, so a Redis restart is a pause, not a failure."""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

MAX_CONNECTIONS = 200
POOL_WAIT = 10.0
"""Seconds a command waits for a free connection when all are busy."""


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=6)


def redis_from_url(url: str, *, max_connections: int = MAX_CONNECTIONS) -> Redis:
    """A client for REDIS_URL; a server's pool holds up to `max_connections` connections."""
    parts = urlsplit(url)
    scheme, _, mode = parts.scheme.partition("+")
    if mode == "cluster":
        # A cluster client speaks the same commands; typed as Redis for the code using it.
        seed = urlunsplit(parts._replace(scheme=scheme))
        return cast(Redis, RedisCluster.from_url(seed, retry=_retry()))
    if mode == "sentinel":
        return _sentinel_master(parts.netloc, parts.path, tls=scheme == "rediss")
    if mode:
        raise ValueError(
            f"REDIS_URL scheme {parts.scheme!r}: use redis, rediss, +cluster or +sentinel"
        )
    # A blocking pool: a burst beyond its size waits for a connection instead of failing.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT,
        retry=_retry(),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    client = Redis(
        connection_pool=pool, retry=_retry(), retry_on_error=[ConnectionError, TimeoutError]
    )
    client.auto_close_connection_pool = True  # as Redis.from_pool does: aclose() closes it
    return client


def _sentinel_master(netloc: str, path: str, *, tls: bool) -> Redis:
    credentials, _, hosts = netloc.rpartition("@")
    password = credentials.partition(":")[2] or None
    name, _, db = path.strip("/").partition("/")
    if not name:
        raise ValueError(
            "redis+sentinel:// URLs name the master: redis+sentinel://h:26379/mymaster"
        )
    nodes = [
        (host, int(port or 26379)) for host, _, port in (h.partition(":") for h in hosts.split(","))
    ]
    sentinel = Sentinel(nodes, password=password, ssl=tls, retry=_retry())  # type: ignore[no-untyped-call]
    return cast(Redis, sentinel.master_for(name, db=int(db or 0), password=password, ssl=tls))


async def close_redis(client: Redis) -> None:
    """Close a client from `redis_from_url`, with its Sentinel connections if it has them."""
    pool = getattr(client, "connection_pool", None)  # a cluster client has one per node
    manager = getattr(pool, "sentinel_manager", None)
    await client.aclose()
    for sentinel in getattr(manager, "sentinels", []):
        await sentinel.aclose()


def as_text(raw: bytes | str | None) -> str:
    """A Redis reply as text (a client may or may not decode replies); None as ""."""
    if raw is None:
        return ""
    return raw.decode() if isinstance(raw, bytes) else raw
