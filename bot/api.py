"""The thread API under /api/threads (HTTP mode): launch, inspect, pause, resume, stop and
answer, authenticated with `Authorization: Bearer $HITL_API_TOKEN`. GET /api/openapi.json
describes it; the schemas come from the same pydantic models that validate requests."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.operations import (
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

Handler = Callable[[Request], Awaitable[Response]]
REF = "#/components/schemas/{model}"


def api_routes(ops: ThreadOps, *, token: str | None) -> list[Route]:
    api = ThreadAPI(ops, token=token)
    guarded = api.guarded
    return [
        Route("/api/openapi.json", api.openapi, methods=["GET"]),
        Route("/api/threads", guarded(api.list_threads), methods=["GET"]),
        Route("/api/threads", guarded(api.launch), methods=["POST"]),
        Route("/api/threads/{thread_id}", guarded(api.get_thread), methods=["GET"]),
        Route("/api/threads/{thread_id}/respond", guarded(api.respond), methods=["POST"]),
        Route("/api/threads/{thread_id}/{action}", guarded(api.control), methods=["POST"]),
    ]


class ThreadAPI:
    def __init__(self, ops: ThreadOps, *, token: str | None) -> None:
        self._ops = ops
        self._token = token

    def guarded(self, handler: Handler) -> Handler:
        """Check the bearer token, then turn what went wrong into a clear HTTP error."""

        async def check(request: Request) -> Response:
            if not self._token:
                return _error(503, "the thread API is off: set HITL_API_TOKEN to turn it on")
            given = request.headers.get("authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), self._token.encode()):
                return _error(401, "missing or wrong bearer token")
            try:
                return await handler(request)
            except NotFound as exc:
                return _error(404, str(exc))
            except Conflict as exc:
                return _error(409, str(exc))
            except SlackError as exc:
                return _error(502, str(exc))
            except BadBody as exc:
                return _error(400, str(exc))
            except ValidationError as exc:
                return JSONResponse({"error": "invalid request", "details": _details(exc)}, 422)

        return check

    async def list_threads(self, _: Request) -> Response:
        return _json([t.model_dump(mode="json") for t in await self._ops.list()])

    async def launch(self, request: Request) -> Response:
        accepted = await self._ops.launch(LaunchRequest.model_validate(await _body(request)))
        return _json(accepted.model_dump(), 202)

    async def get_thread(self, request: Request) -> Response:
        detail = await self._ops.get(request.path_params["thread_id"])
        return _json(detail.model_dump(mode="json"))

    async def control(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("pause", "resume", "stop"):
            return _error(404, f"no action {action!r}: pause, resume or stop")
        body = ControlRequest.model_validate(await _body(request, optional=True))
        accepted = await self._ops.control(request.path_params["thread_id"], action, body)
        return _json(accepted.model_dump(), 202)

    async def respond(self, request: Request) -> Response:
        body = RespondRequest.model_validate(await _body(request))
        accepted = await self._ops.respond(request.path_params["thread_id"], body)
        return _json(accepted.model_dump(), 202)

    async def openapi(self, _: Request) -> Response:
        return _json(openapi_schema())


class BadBody(ValueError):
    pass


async def _body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw and optional:
        return {}
    try:
        return await request.json()
    except ValueError as exc:
        raise BadBody(f"the body is not JSON: {exc}") from exc


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
    ]
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)

    def body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
        content = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}
        return {"required": required, "content": content}

    def answer(model: type[BaseModel] | None, status: str, description: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"$ref": REF.format(model=model.__name__)} if model else {}
        if status == "200" and model is ThreadSummary:
            schema = {"type": "array", "items": schema}
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
        "401": {"description": "missing or wrong bearer token"},
        "404": {"description": "no such thread"},
        "422": {"description": "invalid request body"},
    }
    control = {
        "parameters": thread_id,
        "requestBody": body(ControlRequest, required=False),
        "responses": answer(Accepted, "202", "queued") | errors,
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "slack-hitl thread API", "version": "1"},
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/threads": {
                "get": {
                    "summary": "List threads",
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
