"""Fake receivers for the real tool adapters: a GitHub REST API subset and a signed webhook,
each a small Starlette app on a free port that records every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.serving import RunningServer, start_server
from tools.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

SECRET = "webhook-secret-0123"
GITHUB_TOKEN = "ghp_test0123456789"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeServer:
    received: list[Received] = field(default_factory=list)
    _server: RunningServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    async def start(self) -> None:
        self._server = await start_server(self.app())

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def app(self) -> Starlette:
        raise NotImplementedError

    async def _record(self, request: Request) -> Received:
        raw = await request.body()
        received = Received(
            request.method,
            request.url.path,
            dict(request.headers),
            (await request.json()) if raw else None,
        )
        self.received.append(received)
        return received


@dataclass
class FakeGitHub(FakeServer):
    tags: list[str] = field(default_factory=lambda: ["api-1.4.2", "api-1.4.1", "web-2.0.0"])

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/repos/{owner}/{repo}/actions/workflows/{wf}/dispatches",
                    self._dispatch,
                    methods=["POST"],
                ),
                Route("/repos/{owner}/{repo}/tags", self._tags),
                Route("/repos/{owner}/{repo}/actions/workflows/{wf}/runs", self._runs),
            ]
        )

    def _authorized(self, received: Received) -> bool:
        return received.headers.get("authorization") == f"Bearer {GITHUB_TOKEN}"

    async def _dispatch(self, request: Request) -> Response:
        received = await self._record(request)
        if not self._authorized(received):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return Response(status_code=204)

    async def _tags(self, request: Request) -> Response:
        await self._record(request)
        return JSONResponse([{"name": name} for name in self.tags])

    async def _runs(self, request: Request) -> Response:
        await self._record(request)
        run = {
            "display_title": "deploy checkout 2.3.1 to production",
            "status": "completed",
            "conclusion": "success",
            "created_at": "2030-01-01T10:00:00Z",
            "html_url": "https://github.com/acme/app/actions/runs/1",
        }
        return JSONResponse({"total_count": 1, "workflow_runs": [run]})


@dataclass
class FakeWebhook(FakeServer):
    """Checks the signature like a real receiver would, then answers per action."""

    status: int = 200
    done: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    def valid(self, received: Received, raw: bytes) -> bool:
        return verify(
            SECRET,
            timestamp=received.headers.get(TIMESTAMP_HEADER.lower(), ""),
            body=raw,
            signature=received.headers.get(SIGNATURE_HEADER.lower(), ""),
        )

    async def _hook(self, request: Request) -> Response:
        received = await self._record(request)
        if not self.valid(received, await request.body()):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if self.status != 200:
            return JSONResponse({"error": "receiver is failing"}, status_code=self.status)
        body = received.body or {}
        key = received.headers.get(IDEMPOTENCY_HEADER.lower())
        if key and key in self.done:
            return JSONResponse(self.done[key])
        answer = self._answer(body)
        if key:
            self.done[key] = answer
        return JSONResponse(answer)

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        match body.get("action"):
            case "list_versions":
                return {"service": body["service"], "versions": ["3.0.0", "2.9.9"]}
            case "recent_deploys":
                return {"deploys": []}
            case "open_incidents":
                return {"incidents": [{"id": "INC-1", "title": "DB slow"}]}
            case action:
                fields = {k: v for k, v in body.items() if k not in ("action", "idempotency_key")}
                return {"action": action, **fields, "status": "succeeded", "deployment_id": "w-1"}
