"""An Anthropic Messages API client (`POST {base_url}/v1/messages`).

One request per step: the agent's prompt as `system`, the rendered thread as one user message,
the agent's tools as `{name, description, input_schema}`, and `tool_choice` `any` with parallel
tool use off, so the model answers with exactly one `tool_use` block. That block comes back as
`{"intent": <tool name>, **input}`; the loop validates it. Text without a tool call is passed on
as it is (the loop turns it into an error the model sees next turn)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from agents.models.llm_http import DEFAULT_LIMITS, DEFAULT_TIMEOUT, ProviderHTTP, Retry
from agents.runtime.events import Usage
from agents.runtime.types import ModelError, ModelReply, ModelRequest

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
MAX_TOKENS = 1024
# The Messages API rejects an empty user message; a thread always has one event, but be safe.
EMPTY_CONTEXT = "(no events yet)"


def messages_request(model: str, request: ModelRequest, *, max_tokens: int) -> dict[str, Any]:
    """The body of `POST {base_url}/v1/messages` for one step."""
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": request.system,
        "messages": [{"role": "user", "content": request.context or EMPTY_CONTEXT}],
        "tools": [
            {
                "name": tool["name"],
                "description": tool["description"],
                "input_schema": tool["parameters"],
            }
            for tool in request.tools
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    }


def parse_messages_reply(body: dict[str, Any]) -> ModelReply:
    """The next step from a Messages API response (raises ModelError if it has no content)."""
    content = body.get("content")
    if not isinstance(content, list):
        raise ModelError("anthropic: the response has no content")
    blocks = [b for b in content if isinstance(b, dict)]
    tool_use = next((b for b in blocks if b.get("type") == "tool_use"), None)
    if tool_use is not None:
        arguments: Any = tool_use.get("input")
        if not isinstance(arguments, dict):
            text = json.dumps(arguments)
        else:
            # The tool's name decides the intent, whatever `intent` the input carries.
            arguments.pop("intent", None)
            text = json.dumps({"intent": tool_use.get("name"), **arguments})
    else:
        text = "\n".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    return ModelReply(text=text, usage=_usage(body.get("usage")))


def _usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    inputs, outputs = usage.get("input_tokens"), usage.get("output_tokens")
    if not isinstance(inputs, int) or not isinstance(outputs, int):
        return None
    # `input_tokens` leaves out prompt-cache reads and writes; the step used those too.
    cached = sum(
        value
        for key in ("cache_creation_input_tokens", "cache_read_input_tokens")
        if isinstance(value := usage.get(key), int)
    )
    return Usage(input_tokens=inputs + cached, output_tokens=outputs)


class AnthropicModel:
    """A `Model` over the Anthropic Messages API."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str = ANTHROPIC_BASE_URL,
        max_tokens: int = MAX_TOKENS,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        self.model = model
        self._max_tokens = max_tokens
        headers = {"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION}
        self._http = ProviderHTTP(
            provider="anthropic",
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            retry=retry,
            limits=limits,
        )

    async def next_step(self, request: ModelRequest) -> ModelReply:
        body = messages_request(self.model, request, max_tokens=self._max_tokens)
        return parse_messages_reply(await self._http.post("/v1/messages", body))

    async def aclose(self) -> None:
        await self._http.aclose()
