"""The thread API under /api/threads (HTTP mode): launch, inspect, pause, resume, stop and
answer, authenticated with `Authorization: Bearer <token>`; each token has a name and scopes
(bot/api_auth.py). GET /api/openapi.json describes it; the schemas come from the same pydantic
models that validate requests, strictly (`"yes"` is not a boolean)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from redis.exceptions import RedisError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.requests import InvalidField, NewRequest, RequestView
from bot.api_auth import ApiToken, Scope, identify
from bot.operations import (
    STATUS_FILTERS,
    Accepted,
    Conflict,
    ControlRequest,
    LaunchRequest,
    NotFound,
    RespondRequest,
    SlackError,
    ThreadDetail,
    ThreadOps,
    ThreadSummary,
)
from bot.requests_api import STATUSES, RequestOps

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]
TokenHandler = Callable[[Request, ApiToken], Awaitable[Response]]
REF = "#/components/schemas/{model}"
M = TypeVar("M", bound=BaseModel)
MAX_BODY = 64 * 1024
"""Bytes; a longer body is refused before it is parsed (JSON nesting is capped by the parser)."""


def api_routes(
    ops: ThreadOps, *, tokens: tuple[ApiToken, ...], requests: RequestOps | None = None
) -> list[Route]:
    api = ThreadAPI(ops, tokens=tokens)
    guarded = api.guarded
    asks = [] if requests is None else request_routes(RequestsAPI(requests), guarded)
    return [
        *asks,
        Route("/api/openapi.json", api.openapi, methods=["GET"]),
        Route("/api/threads", guarded(api.list_threads, "read"), methods=["GET"]),
        Route("/api/threads", guarded(api.launch, "launch"), methods=["POST"]),
        Route("/api/threads/{thread_id}", guarded(api.get_thread, "read"), methods=["GET"]),
        Route(
            "/api/threads/{thread_id}/respond",
            guarded(api.respond, "respond"),
            methods=["POST"],
        ),
        Route(
            "/api/threads/{thread_id}/{action}", guarded(api.control, "control"), methods=["POST"]
        ),
    ]


class ThreadAPI:
    def __init__(self, ops: ThreadOps, *, tokens: tuple[ApiToken, ...]) -> None:
        self._ops = ops
        self._tokens = tokens

    def guarded(self, handler: TokenHandler, scope: Scope) -> Handler:
        """Check the bearer token and its scope, then turn what went wrong into a clear HTTP
        error: never a 500 for a bad request or a Redis outage."""

        async def check(request: Request) -> Response:
            token = self._authorize(request, scope)
            if isinstance(token, Response):
                return token
            try:
                return await handler(request, token)
            except (NotFound, Conflict, SlackError, BadBody, ValidationError) as exc:
                return _refusal(exc)
            except InvalidField as exc:
                details = [{"field": exc.field, "problem": exc.problem}]
                return JSONResponse({"error": "invalid request", "details": details}, 422)
            except (RedisError, OSError, TimeoutError) as exc:
                # The class name only: redis-py's messages carry hosts and ports.
                log.warning("thread API: Redis unavailable (%s)", type(exc).__name__)
                return _error(503, "redis unreachable; try again later")

        return check

    def _authorize(self, request: Request, scope: Scope) -> ApiToken | Response:
        """The caller's token, or the response that turns them away."""
        return authorize(self._tokens, request.headers, scope, service="the thread API")

    async def list_threads(self, request: Request, _: ApiToken) -> Response:
        status = request.query_params.get("status")
        if status is not None and status not in STATUS_FILTERS:
            return _error(400, f"`status` is one of {', '.join(STATUS_FILTERS)}")
        threads = await self._ops.list(status=status)
        return _json([t.model_dump(mode="json") for t in threads])

    async def launch(self, request: Request, token: ApiToken) -> Response:
        # The token is recorded with the request, so it cannot also approve it.
        accepted = await self._ops.launch(await _body(request, LaunchRequest), via=token.via)
        return _json(accepted.model_dump(), 202)

    async def get_thread(self, request: Request, _: ApiToken) -> Response:
        detail = await self._ops.get(request.path_params["thread_id"])
        return _json(detail.model_dump(mode="json"))

    async def control(self, request: Request, _: ApiToken) -> Response:
        action = request.path_params["action"]
        if action not in ("pause", "resume", "stop"):
            return _error(404, f"no action {action!r}: pause, resume or stop")
        body = await _body(request, ControlRequest, optional=True)
        accepted = await self._ops.control(request.path_params["thread_id"], action, body)
        return _json(accepted.model_dump(), 202)

    async def respond(self, request: Request, token: ApiToken) -> Response:
        body = await _body(request, RespondRequest)
        accepted = await self._ops.respond(request.path_params["thread_id"], body, via=token.via)
        return _json(accepted.model_dump(), 202)

    async def openapi(self, _: Request) -> Response:
        return _json(openapi_schema())


def request_routes(
    api: RequestsAPI, guarded: Callable[[TokenHandler, Scope], Handler]
) -> list[Route]:
    """The human-contact requests API: every operation needs the `request` scope."""
    return [
        Route("/api/requests", guarded(api.create, "request"), methods=["POST"]),
        Route("/api/requests", guarded(api.list_requests, "request"), methods=["GET"]),
        Route("/api/requests/{request_id}", guarded(api.get_request, "request"), methods=["GET"]),
        Route(
            "/api/requests/{request_id}/cancel", guarded(api.cancel, "request"), methods=["POST"]
        ),
    ]


class RequestsAPI:
    def __init__(self, ops: RequestOps) -> None:
        self._ops = ops

    async def create(self, request: Request, token: ApiToken) -> Response:
        # The token is recorded with the request, so it cannot also approve it.
        shown, created = await self._ops.create(await _body(request, NewRequest), via=token.via)
        return _json(shown.model_dump(mode="json"), 201 if created else 200)

    async def get_request(self, request: Request, _: ApiToken) -> Response:
        wait = request.query_params.get("wait", "0")
        try:
            seconds = float(wait)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds <= 60:
            return _error(400, "`wait` is a number of seconds from 0 to 60")
        shown = await self._ops.get(request.path_params["request_id"], wait=seconds)
        return _json(shown.model_dump(mode="json"))

    async def list_requests(self, request: Request, _: ApiToken) -> Response:
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            return _error(400, f"`status` is one of {', '.join(STATUSES)}")
        found = await self._ops.list(status=status)
        return _json([r.model_dump(mode="json") for r in found])

    async def cancel(self, request: Request, token: ApiToken) -> Response:
        shown = await self._ops.cancel(request.path_params["request_id"], via=token.via)
        return _json(shown.model_dump(mode="json"), 202)


def authorize(
    tokens: tuple[ApiToken, ...], headers: Headers, scope: Scope, *, service: str
) -> ApiToken | JSONResponse:
    """The bearer token of a request to `service`, or the response that turns it away: 503
    when no token is set, 401 for a missing or wrong one, 403 naming a missing scope."""
    if not tokens:
        return _error(503, f"{service} is off: set HITL_API_TOKEN(S) to turn it on")
    given = headers.get("authorization", "").removeprefix("Bearer ")
    token = identify(tokens, given)
    if token is None:
        return _error(401, "missing or wrong bearer token")
    if not token.allows(scope):
        message = f"API token {token.name} lacks the `{scope}` scope"
        return JSONResponse({"error": message, "missing_scope": scope}, 403)
    return token


def _request_paths(
    body: Callable[[type[BaseModel]], dict[str, Any]],
    answer: Callable[[type[BaseModel] | None, str, str], dict[str, Any]],
    errors: dict[str, Any],
) -> dict[str, Any]:
    """The requests API's paths (every one needs the `request` scope)."""
    request_id = {
        "name": "request_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    wait = {
        "name": "wait",
        "in": "query",
        "required": False,
        "description": "long-poll: answer once the request changes, or after this many seconds",
        "schema": {"type": "number", "minimum": 0, "maximum": 60},
    }
    status = {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(STATUSES)},
    }
    return {
        "/api/requests": {
            "post": {
                "summary": "Ask a person in Slack to approve an action or answer a question",
                "requestBody": body(NewRequest),
                "responses": answer(RequestView, "201", "asked")
                | answer(RequestView, "200", "the request this idempotency key made before")
                | errors
                | {"502": {"description": "Slack refused"}},
            },
            "get": {
                "summary": "List requests",
                "parameters": [status],
                "responses": answer(RequestView, "200 list", "requests") | errors,
            },
        },
        "/api/requests/{request_id}": {
            "get": {
                "summary": "A request and its decision",
                "parameters": [request_id, wait],
                "responses": answer(RequestView, "200", "the request") | errors,
            }
        },
        "/api/requests/{request_id}/cancel": {
            "post": {
                "summary": "Cancel a waiting request (a worker applies it)",
                "parameters": [request_id],
                "responses": answer(RequestView, "202", "the request, as it was; cancel queued")
                | errors
                | {"409": {"description": "already settled"}},
            }
        },
    }


class BadBody(ValueError):
    pass


async def _body(request: Request, model: type[M], *, optional: bool = False) -> M:
    """The body as `model`, strictly typed. Junk, a body over MAX_BODY and JSON nested past the
    parser's recursion limit are a BadBody (400); wrong fields a ValidationError (422)."""
    raw = await _capped(request)
    if not raw.strip() and optional:
        raw = b"{}"
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        junk = [e["msg"] for e in exc.errors() if e["type"] == "json_invalid"]
        if junk:
            raise BadBody(f"the body is not JSON: {junk[0]}") from None
        raise


async def _capped(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadBody(f"the body is over {MAX_BODY // 1024} KiB")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadBody(f"the body is over {MAX_BODY // 1024} KiB")
    return bytes(raw)


def _refusal(exc: NotFound | Conflict | SlackError | BadBody | ValidationError) -> JSONResponse:
    match exc:
        case ValidationError():
            return JSONResponse({"error": "invalid request", "details": _details(exc)}, 422)
        case NotFound():
            return _error(404, str(exc))
        case Conflict():
            return _error(409, str(exc))
        case SlackError():
            return _error(502, str(exc))
        case BadBody():
            return _error(400, str(exc))


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
    ]


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def openapi_schema() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        LaunchRequest,
        ControlRequest,
        RespondRequest,
        ThreadSummary,
        ThreadDetail,
        Accepted,
        NewRequest,
        RequestView,
    ]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)

    def body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
        content = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
        return {"required": required, "content": content}

    def answer(model: type[BaseModel] | None, status: str, description: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"$ref": REF.format(model=model.__name__)} if model else {}
        if (status == "200" and model is ThreadSummary) or status == "200 list":
            schema = {"type": "array", "items": schema}
            status = "200"
        return {
            status: {
                "description": description,
                "content": {"application/json": {"schema": schema}},
            }
        }

    thread_id = [
        {"name": "thread_id", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    errors = {
        "400": {"description": "not JSON, nested too deep, or over 64 KiB"},
        "401": {"description": "missing or wrong bearer token"},
        "403": {"description": "the token lacks the scope this operation needs"},
        "404": {"description": "no such thread"},
        "422": {"description": 'invalid request body (strict types: no `"yes"` for true)'},
        "503": {"description": "the API is off, or Redis is unreachable"},
    }
    control = {
        "parameters": thread_id,
        "requestBody": body(ControlRequest, required=False),
        "responses": answer(Accepted, "202", "queued") | errors,
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "slack-hitl thread and requests API", "version": "1"},
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/threads": {
                "get": {
                    "summary": "List threads, newest activity first",
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "required": False,
                            "description": "only threads in this status (`waiting`: any wait)",
                            "schema": {"type": "string", "enum": list(STATUS_FILTERS)},
                        }
                    ],
                    "responses": answer(ThreadSummary, "200", "threads") | errors,
                },
                "post": {
                    "summary": "Launch an agent; it reports in the given Slack channel",
                    "requestBody": body(LaunchRequest),
                    "responses": answer(Accepted, "202", "queued")
                    | errors
                    | {"502": {"description": "Slack refused"}},
                },
            },
            "/api/threads/{thread_id}": {
                "get": {
                    "summary": "A thread's status, open request and timeline",
                    "parameters": thread_id,
                    "responses": answer(ThreadDetail, "200", "the thread") | errors,
                }
            },
            "/api/threads/{thread_id}/pause": {"post": {"summary": "Pause", **control}},
            "/api/threads/{thread_id}/resume": {"post": {"summary": "Resume", **control}},
            "/api/threads/{thread_id}/stop": {"post": {"summary": "Stop for good", **control}},
            **_request_paths(body, answer, errors),
            "/api/threads/{thread_id}/respond": {
                "post": {
                    "summary": "Approve, reject or answer the open request as a Slack user",
                    "parameters": thread_id,
                    "requestBody": body(RespondRequest),
                    "responses": answer(Accepted, "202", "queued")
                    | errors
                    | {"409": {"description": "nothing to answer"}},
                }
            },
        },
    }
