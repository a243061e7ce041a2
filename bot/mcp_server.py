"""The MCP server: the human-contact requests API (`bot/requests_api.py`) as MCP tools, built on
the official `mcp` SDK (2.x, `MCPServer`). The tools call `RequestOps` in-process, so a request
made here is the same thread, card, policy and audit as one made over `/api/requests`.
`hitl mcp` serves them over stdio (bot/mcp_stdio.py); `hitl serve` at `/mcp` (`McpEndpoint`).

A tool never blocks past MAX_WAIT_SECONDS: a wait that ends undecided returns the request with
status `waiting`, and the caller polls `get_request` with its id. While it waits, a client that
gave a progress token gets a progress notification every PROGRESS_SECONDS."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from agents.requests import InvalidField, NewRequest, RequestView
from bot.api import authorize
from bot.api_auth import ApiToken
from bot.operations import Conflict, NotFound, SlackError
from bot.requests_api import RequestOps

McpContext: TypeAlias = Context
"""Bare on purpose: the SDK injects the context by finding this class in the hints, and does
not see through `Context[Any, Any]`."""

MAX_WAIT_SECONDS = 50.0
"""The longest a tool call waits for a person: under the 60 s many MCP clients allow a call."""
PROGRESS_SECONDS = 5.0
"""How often a waiting call tells a client with a progress token that it is still alive."""
STDIO_VIA = "MCP"
"""How a request made over stdio is recorded; it cannot approve what it asked."""
VIA_SCOPE_KEY = "hitl.via"
"""Where `McpEndpoint` leaves the bearer token's `via` in the ASGI scope."""

_FIELDS = {"action.name": "action_name", "action.arguments": "arguments"}
"""NewRequest's field paths, named as this server's tools name their arguments."""

_POLL_RULE = (
    "If the returned status is `waiting`, nobody has decided yet: call `get_request` with the "
    "returned `id` (and `wait_seconds` up to 50) again, as often as needed, until the status is "
    "no longer `waiting`. Never assume an outcome while it is `waiting`."
)
_RESULT = (
    "Returns the request as JSON: id, kind, status (waiting | approved | rejected | answered | "
    "expired | cancelled), decisions, answer, arguments (as finally approved, edits included), "
    "receipt and url (the Slack card)."
)
REQUEST_APPROVAL = (
    "Ask a person in Slack to approve one action BEFORE you perform it (anything risky, "
    "irreversible, costly or outside what you were asked). Posts an approval card in `channel` "
    "(a Slack channel ID such as C0123ABCD) showing `action_name` and `arguments`. Only perform "
    "the action if the status becomes `approved`, and then with the returned `arguments` (an "
    "approver may have edited them); `rejected`, `expired` or `cancelled` mean do not. "
    "`approvers`: Slack user IDs who may decide (default: the configured approvers); "
    "`timeout_seconds` (60 and up): when the request expires. "
    f"`wait_seconds` (0 to {MAX_WAIT_SECONDS:.0f}): how long to wait for the decision in this "
    f"call. {_POLL_RULE} {_RESULT}"
)
REQUEST_INPUT = (
    "Ask a person in Slack a question when you lack information only a human has (a choice, a "
    "missing value, a clarification). Posts `question` in `channel` (a Slack channel ID); "
    "`options` (up to 5 short strings) become buttons, and a reply in the thread answers too. "
    "`approvers`: Slack user IDs who may answer (default: the configured approvers). "
    "When the status becomes `answered`, the answer is in `answer`. "
    f"`wait_seconds` (0 to {MAX_WAIT_SECONDS:.0f}): how long to wait for it in this call. "
    f"{_POLL_RULE} {_RESULT}"
)
GET_REQUEST = (
    "Read a request made with `request_approval` or `request_input` by its `id`, waiting up to "
    f"`wait_seconds` (0 to {MAX_WAIT_SECONDS:.0f}) for a decision. Use it to poll: while the "
    "status is `waiting`, call it again with the same id. A wait that ends undecided is not an "
    f"error. {_RESULT}"
)
LIST_PENDING = (
    "List the requests still waiting for a person (status `waiting`), newest first, as a JSON "
    "list. Use it to find the id of a request you lost track of."
)
CANCEL_REQUEST = (
    "Withdraw a waiting request by `id` when it is no longer needed (the task changed or was "
    "done another way). Returns the request as it was; the cancellation lands within moments "
    "and `get_request` then shows `cancelled`. A request already decided cannot be cancelled."
)


def build_mcp(ops: RequestOps) -> MCPServer[Any]:
    """An MCP server whose tools ask people through `ops`."""
    server: MCPServer[Any] = MCPServer(
        "slack-hitl",
        instructions="Ask a person in Slack before risky steps, or when you need an answer.",
    )

    async def request_approval(
        channel: str,
        summary: str,
        action_name: str,
        arguments: dict[str, Any],
        ctx: McpContext,
        approvers: list[str] | None = None,
        timeout_seconds: int | None = None,
        wait_seconds: float = 0,
    ) -> str:
        fields = {
            "kind": "approval",
            "channel": channel,
            "summary": summary,
            "action": {"name": action_name, "arguments": arguments},
            "approvers": approvers or [],
            "timeout_seconds": timeout_seconds,
        }
        return await _asked(ops, fields, ctx, wait_seconds)

    async def request_input(
        channel: str,
        question: str,
        ctx: McpContext,
        options: list[str] | None = None,
        approvers: list[str] | None = None,
        wait_seconds: float = 0,
    ) -> str:
        fields = {"kind": "input", "channel": channel, "question": question}
        chosen = {"options": options or [], "approvers": approvers or []}
        return await _asked(ops, fields | chosen, ctx, wait_seconds)

    async def get_request(id: str, ctx: McpContext, wait_seconds: float = 0) -> str:
        async with _refusals():
            return _text(await _waited(ops, id, wait_seconds, ctx))

    async def list_pending() -> str:
        async with _refusals():
            found = await ops.list(status="waiting")
        return json.dumps([r.model_dump(mode="json") for r in found])

    async def cancel_request(id: str, ctx: McpContext) -> str:
        async with _refusals():
            return _text(await ops.cancel(id, via=caller(ctx)))

    for tool, description in (
        (request_approval, REQUEST_APPROVAL),
        (request_input, REQUEST_INPUT),
        (get_request, GET_REQUEST),
        (list_pending, LIST_PENDING),
        (cancel_request, CANCEL_REQUEST),
    ):
        server.add_tool(tool, description=description, structured_output=False)
    return server


def caller(ctx: McpContext) -> str:
    """Who asks: the bearer token's `via` over HTTP, STDIO_VIA over stdio."""
    request = ctx.request_context.request
    scope = getattr(request, "scope", None)
    via = scope.get(VIA_SCOPE_KEY) if isinstance(scope, dict) else None
    return via if isinstance(via, str) else STDIO_VIA


async def _asked(ops: RequestOps, fields: dict[str, Any], ctx: McpContext, wait: float) -> str:
    async with _refusals():
        try:
            request = NewRequest.model_validate(fields)
        except ValidationError as exc:
            raise ToolError(f"invalid request: {_problems(exc)}") from None
        shown, _ = await ops.create(request, via=caller(ctx))
        if wait > 0:
            shown = await _waited(ops, shown.id, wait, ctx)
        return _text(shown)


async def _waited(ops: RequestOps, request_id: str, wait: float, ctx: McpContext) -> RequestView:
    """The request once decided, or as it is after `wait` seconds (at most MAX_WAIT_SECONDS).
    A client's cancellation ends the wait where it sleeps; nothing is left to undo."""
    total = min(max(wait, 0.0), MAX_WAIT_SECONDS)
    started = time.monotonic()
    shown = await ops.get(request_id)
    while shown.status == "waiting" and (left := total - (time.monotonic() - started)) > 0:
        shown = await ops.get(request_id, wait=min(left, PROGRESS_SECONDS))
        if shown.status == "waiting":
            waited = min(time.monotonic() - started, total)
            # A no-op unless the client asked for progress with a token.
            await ctx.report_progress(waited, total, "waiting for a person in Slack")
    return shown


@asynccontextmanager
async def _refusals() -> AsyncIterator[None]:
    """Turns what RequestOps refuses into an MCP tool error the model can read; never a crash."""
    try:
        yield
    except InvalidField as exc:
        raise ToolError(f"invalid request: {exc.field}: {exc.problem}") from None
    except (NotFound, Conflict, SlackError) as exc:
        raise ToolError(str(exc)) from None
    except (RedisError, OSError, TimeoutError) as exc:
        # The class name only: redis-py's messages carry hosts and ports.
        raise ToolError(f"redis unreachable ({type(exc).__name__}); try again later") from None


def _problems(exc: ValidationError) -> str:
    said = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        field = _FIELDS.get(path, path)
        said.append(f"{field}: {error['msg']}" if field else str(error["msg"]))
    return "; ".join(said)


def _text(shown: RequestView) -> str:
    return json.dumps(shown.model_dump(mode="json"))


class McpEndpoint:
    """`/mcp` on `hitl serve`: MCP's Streamable HTTP behind a bearer token with the `request`
    scope (the tokens of bot/api_auth.py). Stateless, so any replica behind a load balancer can
    take any call. Its session manager runs in the Starlette app's `lifespan`."""

    def __init__(self, ops: RequestOps, *, tokens: tuple[ApiToken, ...]) -> None:
        server = build_mcp(ops)
        server.streamable_http_app(
            stateless_http=True,
            # DNS rebinding cannot send the bearer token, so no Host allow-list: one would
            # turn away every real hostname `hitl serve` is reached by.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._manager = server.session_manager
        self._handler = StreamableHTTPASGIApp(self._manager)
        self._tokens = tokens
        self._running = False

    @asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        """Run the SDK's session manager for as long as the app serves."""
        async with self._manager.run():
            self._running = True
            try:
                yield
            finally:
                self._running = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = self._token(Headers(scope=scope))
        if isinstance(token, JSONResponse):
            await token(scope, receive, send)
            return
        await self._handler({**scope, VIA_SCOPE_KEY: token.via}, receive, send)

    def _token(self, headers: Headers) -> ApiToken | JSONResponse:
        token = authorize(self._tokens, headers, "request", service="MCP over HTTP")
        if isinstance(token, ApiToken) and not self._running:
            return _error(503, "MCP is not started: serve the app with its lifespan on")
        return token


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)
