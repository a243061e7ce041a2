"""Fake LLM provider servers: a small Starlette app served on a free port that records every
request and answers with scripted responses, so the real HTTP clients are tested end to end.
Response builders follow the documented shapes of OpenAI chat completions (`tool_calls` with
JSON-string `arguments`) and the Anthropic Messages API (`tool_use` content blocks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.deploy import AGENT as DEPLOY
from agents.models.llm_anthropic import AnthropicModel
from agents.models.llm_http import Retry
from agents.models.llm_openai import OpenAIModel
from agents.runtime.context import build_request
from agents.runtime.events import UserMessage
from agents.runtime.thread import Thread
from agents.runtime.types import ModelRequest
from bot.serving import RunningServer, start_server

Kind = Literal["openai", "anthropic"]
OPENAI_KEY = "sk-test-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"
FAST = Retry(attempts=3, base_delay=0.001, max_delay=2.0)
PROD = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}
APPROVAL = {"action": PROD, "summary": "Deploy api 1.4.2 to production"}


def deploy_request() -> ModelRequest:
    """What the deploy agent asks for the first step of `deploy api 1.4.2 to production`."""
    thread = Thread(
        id="t1",
        agent="deploy",
        requester="U0ALICE",
        events=[UserMessage(user="U0ALICE", text="deploy api 1.4.2 to production")],
    )
    return build_request(DEPLOY, thread)


@dataclass(frozen=True)
class Hang:
    """Answer nothing for `seconds`, so the client's read timeout fires first."""

    seconds: float


Scripted = Response | Hang


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]
    at: float


@dataclass
class FakeProvider:
    """Answers each POST with the next scripted response, then with `fallback` forever."""

    fallback: Scripted | None = None
    requests: list[Recorded] = field(default_factory=list)
    _script: list[Scripted] = field(default_factory=list)
    _server: RunningServer | None = None
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def script(self, *responses: Scripted) -> None:
        self._script.extend(responses)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake provider first"
        return self._server.url

    async def start(self) -> None:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        self._server = await start_server(app)

    async def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            await self._server.stop()

    async def _handle(self, request: Request) -> Response:
        self.requests.append(
            Recorded(
                path=request.url.path,
                headers=dict(request.headers),
                json=await request.json(),
                at=time.monotonic(),
            )
        )
        answer = self._script.pop(0) if self._script else self.fallback
        if answer is None:
            return error(500, "fake provider: nothing scripted")
        if isinstance(answer, Hang):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), answer.seconds)
            return error(504, "fake provider: hung")
        return answer


def client_for(
    kind: Kind, provider: FakeProvider, *, retry: Retry = FAST
) -> OpenAIModel | AnthropicModel:
    """The real client of `kind`, pointed at `provider`."""
    timeout = httpx.Timeout(2.0, connect=1.0)
    if kind == "openai":
        return OpenAIModel(
            model="gpt-test",
            base_url=f"{provider.url}/v1",
            api_key=OPENAI_KEY,
            timeout=timeout,
            retry=retry,
        )
    return AnthropicModel(
        model="claude-test",
        api_key=ANTHROPIC_KEY,
        base_url=provider.url,
        timeout=timeout,
        retry=retry,
    )


def tool_call(kind: Kind, name: str, arguments: dict[str, Any]) -> Response:
    """One tool call in `kind`'s shape, using 321 input and 45 output tokens."""
    if kind == "openai":
        return openai_tool_call(name, arguments)
    return anthropic_tool_use(name, arguments)


def context_sent(body: dict[str, Any]) -> str:
    """The rendered thread in a recorded request body."""
    user = body["messages"][-1]
    assert user["role"] == "user"
    return str(user["content"])


def error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    """An error in the shape OpenAI uses ({"error": {"message", "type"}}); Anthropic adds a
    top-level "type": "error", which `anthropic_error` builds."""
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


def anthropic_error(
    status: int, kind: str, message: str, *, headers: dict[str, str] | None = None
) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def openai_tool_call(
    name: str,
    arguments: dict[str, Any] | str,
    *,
    as_object: bool = False,
    prompt_tokens: int = 321,
    completion_tokens: int = 45,
) -> Response:
    """A chat completion whose message is one tool call. `arguments` is sent as a JSON string
    (OpenAI), as a raw string (e.g. malformed), or as an object (`as_object`, Ollama's quirk)."""
    if as_object or isinstance(arguments, str):
        sent: Any = arguments
    else:
        sent = json.dumps(arguments)
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": name, "arguments": sent}}
        ],
    }
    return _completion(message, "tool_calls", prompt_tokens, completion_tokens)


def openai_text(text: str, *, prompt_tokens: int = 300, completion_tokens: int = 12) -> Response:
    message = {"role": "assistant", "content": text}
    return _completion(message, "stop", prompt_tokens, completion_tokens)


def _completion(message: dict[str, Any], finish: str, prompt: int, completion: int) -> Response:
    return JSONResponse(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "gpt-test",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


def anthropic_tool_use(
    name: str,
    arguments: dict[str, Any],
    *,
    input_tokens: int = 321,
    output_tokens: int = 45,
    preamble: str | None = "I'll take the next step.",
) -> Response:
    """A message with an optional text block followed by one `tool_use` block."""
    content: list[dict[str, Any]] = [{"type": "text", "text": preamble}] if preamble else []
    content.append({"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments})
    return _message(
        content, "tool_use", {"input_tokens": input_tokens, "output_tokens": output_tokens}
    )


def anthropic_text(text: str) -> Response:
    return _message(
        [{"type": "text", "text": text}], "end_turn", {"input_tokens": 300, "output_tokens": 12}
    )


def _message(content: list[dict[str, Any]], stop: str, usage: dict[str, int]) -> Response:
    return JSONResponse(
        {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
    )
