"""A fake LLM provider on loopback, for the token figure: it speaks the OpenAI chat completions
(`POST /v1/chat/completions`) and responses (`POST /v1/responses`) APIs, records every request
body exactly as it arrived, and answers each request with the next scripted tool call (a final
text once the script is done). Any client pointed at it, ours or a framework's, runs unchanged;
what it records is what a provider would have billed.

It serves from a thread of its own (stdlib `ThreadingHTTPServer`), so a client may run in this
process's event loop or in a subprocess."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Call = tuple[str, dict[str, Any]]
"""One scripted model step: the tool's name and its arguments."""

FINAL_TEXT = "Done."
_USAGE_CHAT = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
_USAGE_RESPONSES = {
    "input_tokens": 0,
    "output_tokens": 0,
    "total_tokens": 0,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens_details": {"reasoning_tokens": 0},
}


@dataclass
class FakeProvider:
    """The script and what was asked. `bodies` holds each request's JSON body, in order."""

    script: list[Call]
    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.bodies.append(body)
            n = len(self.bodies)
        call = self.script[n - 1] if n <= len(self.script) else None
        model = str(body.get("model", "fake"))
        if path.endswith("/responses"):
            return _response(n, model, call)
        return _chat_completion(n, model, call)


def _chat_completion(n: int, model: str, call: Call | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": FINAL_TEXT}
    if call is not None:
        function = {"name": call[0], "arguments": json.dumps(call[1])}
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": f"call_{n:04d}", "type": "function", "function": function}],
        }
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": "stop" if call is None else "tool_calls",
    }
    return {
        "id": f"chatcmpl-{n:04d}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [choice],
        "usage": _USAGE_CHAT,
    }


def _response(n: int, model: str, call: Call | None) -> dict[str, Any]:
    item: dict[str, Any]
    if call is None:
        text = {"type": "output_text", "text": FINAL_TEXT, "annotations": []}
        item = {
            "type": "message",
            "id": f"msg_{n:04d}",
            "role": "assistant",
            "status": "completed",
            "content": [text],
        }
    else:
        item = {
            "type": "function_call",
            "id": f"fc_{n:04d}",
            "call_id": f"call_{n:04d}",
            "name": call[0],
            "arguments": json.dumps(call[1]),
            "status": "completed",
        }
    return {
        "id": f"resp_{n:04d}",
        "object": "response",
        "created_at": 0,
        "model": model,
        "status": "completed",
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": _USAGE_RESPONSES,
    }


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            payload = json.dumps(provider.answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the bench prints its own table

    return Handler


@contextmanager
def fake_provider(script: list[Call]) -> Iterator[FakeProvider]:
    """A running fake provider on a free loopback port; its `url` ends in `/v1`, the base URL
    the OpenAI clients take."""
    provider = FakeProvider(script=script)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
