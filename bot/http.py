"""HTTP mode: Slack's Events API and interactivity on POST /slack/events, plus health, the
thread and requests APIs and MCP at /mcp."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from redis.exceptions import RedisError
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.runtime.metrics import Metrics
from agents.runtime.worker_health import WorkerHealth
from bot.api import api_routes
from bot.api_auth import ApiToken
from bot.mcp_server import McpEndpoint
from bot.operations import ThreadOps
from bot.requests_api import RequestOps

log = logging.getLogger(__name__)

PING_SECONDS = 1.0
"""/healthz answers within about this long even while Redis does not (the client retries)."""

METRICS_SECONDS = 5.0
"""/metrics gives up on Redis after this long and answers 503."""

WorkerHealthProbe = Callable[[], WorkerHealth]


def attach_worker(app: Starlette, *, health: WorkerHealthProbe, metrics: Metrics | None) -> None:
    """The worker running in this process (on this loop or its own thread): /healthz reports
    its state and /metrics shows what its runtime recorded."""
    app.state.worker_health = health
    app.state.worker_metrics = metrics


def build_http_app(
    bolt: AsyncApp,
    *,
    signing_secret: str,
    redis: Redis,
    ops: ThreadOps,
    api_tokens: tuple[ApiToken, ...],
    metrics: Metrics,
    requests: RequestOps | None = None,
) -> Starlette:
    slack = AsyncSlackRequestHandler(bolt)
    verifier = SignatureVerifier(signing_secret)

    async def events(request: Request) -> Response:
        # Bolt parses a body before it checks its signature, and raises on some junk; so the
        # signature is checked first here, and what Bolt cannot parse is a 400, never a 500.
        body = await request.body()
        if not _signed(verifier, body, request) and not _ssl_check(body):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            return await slack.handle(request)
        except Exception:
            log.warning("a signed Slack payload we cannot parse", exc_info=True)
            return JSONResponse({"error": "malformed Slack payload"}, status_code=400)

    async def healthz(request: Request) -> JSONResponse:
        # {"ok": true} when all is well; otherwise what is wrong, in words only (exception
        # texts carry hosts and ports).
        redis_state = "ok" if await _answers(redis) else "unreachable"
        probe: WorkerHealthProbe | None = getattr(request.app.state, "worker_health", None)
        worker = probe() if probe is not None else None
        problems: dict[str, str] = {}
        if worker is not None and not worker.ok:
            if worker.redis == "unreachable":
                redis_state = "unreachable"
            problems = {"redis": redis_state, "worker": worker.worker}
        elif redis_state != "ok":
            problems = {"redis": redis_state}
            if worker is not None:
                problems["worker"] = "waiting for Redis"
        if problems:
            return JSONResponse({"ok": False, **problems}, status_code=503)
        return JSONResponse({"ok": True})

    # MCP's Streamable HTTP at exactly /mcp (a Route, not a Mount, which would redirect to
    # /mcp/); its session manager runs in the app's lifespan.
    mcp = None if requests is None else McpEndpoint(requests, tokens=api_tokens)
    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_route(metrics, redis), methods=["GET"]),
            *api_routes(ops, tokens=api_tokens, requests=requests),
            *([] if mcp is None else [Route("/mcp", mcp)]),
        ],
        lifespan=None if mcp is None else mcp.lifespan,
    )


async def _answers(redis: Redis) -> bool:
    try:
        async with asyncio.timeout(PING_SECONDS):
            await redis.ping()
    except (RedisError, OSError, TimeoutError):
        return False
    return True


def _signed(verifier: SignatureVerifier, body: bytes, request: Request) -> bool:
    try:
        return bool(verifier.is_valid_request(body, dict(request.headers)))
    except (ValueError, TypeError):  # e.g. a timestamp that is not a number
        return False


def _ssl_check(body: bytes) -> bool:
    """Slack's unsigned certificate check, which Bolt answers itself."""
    return parse_qs(body.decode(errors="replace")).get("ssl_check") == ["1"]


def metrics_route(metrics: Metrics, redis: Redis) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics in Prometheus' text format."""

    async def render(request: Request) -> Response:
        shown: Metrics = getattr(request.app.state, "worker_metrics", None) or metrics
        try:
            async with asyncio.timeout(METRICS_SECONDS):
                text = await shown.render(redis)
        except (RedisError, OSError, TimeoutError) as exc:
            # The gauges come from Redis: without it there is nothing true to show. The class
            # name only in the log: redis-py's messages carry hosts and ports.
            log.warning("/metrics: Redis unavailable (%s)", type(exc).__name__)
            return Response("redis unreachable\n", status_code=503, media_type="text/plain")
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    return render
