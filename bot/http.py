"""HTTP mode: Slack's Events API and interactivity on POST /slack/events, plus health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from redis.exceptions import RedisError
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.metrics import Metrics
from bot.api import api_routes
from bot.operations import ThreadOps


def build_http_app(
    bolt: AsyncApp, *, redis: Redis, ops: ThreadOps, api_token: str | None, metrics: Metrics
) -> Starlette:
    slack = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await slack.handle(request)

    async def healthz(_: Request) -> JSONResponse:
        try:
            await redis.ping()
        except RedisError as exc:
            return JSONResponse({"ok": False, "redis": str(exc)}, status_code=503)
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/slack/events", events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_route(metrics, redis), methods=["GET"]),
            *api_routes(ops, token=api_token),
        ]
    )


def metrics_route(metrics: Metrics, redis: Redis) -> Callable[[Request], Awaitable[Response]]:
    """GET /metrics in Prometheus' text format."""

    async def render(_: Request) -> Response:
        return Response(await metrics.render(redis), media_type=CONTENT_TYPE_LATEST)

    return render
