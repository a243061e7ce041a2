"""An OpenAI-compatible chat-completions client (OpenAI, vLLM, Ollama, llama.cpp server).

One request per step: the agent's prompt as the system message, the rendered thread as one user
message, the agent's tools, and `tool_choice: "required"`. The first tool call comes back as
`{"intent": <tool name>, **arguments}`; the loop validates it.

Quirks of compatible servers handled here:
- `arguments` may already be a JSON object instead of a JSON string (Ollama, some vLLM tool
  parsers), or an empty string for a call without arguments.
- Arguments that are not valid JSON are passed on as they are, so the loop's error (which the
  model sees next turn) points at the exact problem.
- A model that answers in prose, or puts the call in `content` as text (a server without a tool
  template), is passed on as text; so is a `refusal`.
- `usage` may be missing; then no usage is recorded.
- Parallel tool calls: only the first is taken. `parallel_tool_calls` is not sent because some
  models and servers reject the field.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from agents.models.llm_http import DEFAULT_LIMITS, DEFAULT_TIMEOUT, ProviderHTTP, Retry
from agents.runtime.events import Usage
from agents.runtime.types import ModelError, ModelReply, ModelRequest

OPENAI_BASE_URL = "https://api.openai.com/v1"


def chat_request(model: str, request: ModelRequest) -> dict[str, Any]:
    """The body of `POST {base_url}/chat/completions` for one step."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.context},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "description": tool["description"],
                    "parameters": tool["parameters"],
                },
            }
            for tool in request.tools
        ],
        "tool_choice": "required",
    }


def parse_chat_reply(body: dict[str, Any]) -> ModelReply:
    """The next step from a chat-completions response (raises ModelError if it has no answer)."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ModelError("openai: the response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ModelError("openai: the response has no message")
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls and isinstance(calls[0], dict):
        text = _call_text(calls[0])
    else:
        text = _text(message.get("content")) or _text(message.get("refusal"))
    return ModelReply(text=text, usage=_usage(body.get("usage")))


def _call_text(call: dict[str, Any]) -> str:
    function = call.get("function")
    if not isinstance(function, dict):
        return json.dumps(call)
    raw: Any = function.get("arguments")
    arguments: Any = raw
    if isinstance(raw, str):
        try:
            arguments = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return raw
    if not isinstance(arguments, dict):
        return json.dumps(arguments)
    # The tool's name decides the intent, whatever `intent` the arguments carry.
    arguments.pop("intent", None)
    return json.dumps({"intent": function.get("name"), **arguments})


def _text(content: Any) -> str:
    if content is None:
        return ""
    return content if isinstance(content, str) else json.dumps(content)


def _usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(input_tokens=prompt, output_tokens=completion)
    return None


class OpenAIModel:
    """A `Model` over an OpenAI-compatible `/chat/completions` endpoint. `base_url` includes the
    API version (`.../v1`); `api_key` may be None for local servers that need none."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str = OPENAI_BASE_URL,
        api_key: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = ProviderHTTP(
            provider="openai",
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            retry=retry,
            limits=limits,
        )

    async def next_step(self, request: ModelRequest) -> ModelReply:
        body = await self._http.post("/chat/completions", chat_request(self.model, request))
        return parse_chat_reply(body)

    async def aclose(self) -> None:
        await self._http.aclose()
