"""A generic signed webhook, the real adapter behind deploys, access grants and incidents when
no more specific API is configured.

Each call is `POST {url}` with a JSON body `{"action": ..., "idempotency_key": ..., **arguments}`
(plus `"receipt": ...` for an approved action when HITL_RECEIPT_SECRET is set: the executor
verifies it against `action` and the arguments with `tools/receipt_verify.py`, the arguments
being the body without `action`, `idempotency_key` and `receipt`) and these headers:

  X-Hitl-Timestamp: <unix seconds>
  X-Hitl-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" keyed with the secret>
  Idempotency-Key: <stable per tool call; a retried call repeats it; absent on reads>

The receiver recomputes the signature over the raw body, rejects timestamps older than five
minutes, and does the work at most once per idempotency key. Its answer is a JSON object, which
becomes the tool's result. 4xx answers are failures the model can act on (its `error` or
`message` field is shown to it); 5xx and dropped connections are retried by the loop's error
handling like any other tool failure."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from tools.types import RetryableToolError, ToolOutput

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
SIGNATURE_HEADER = "X-Hitl-Signature"
TIMESTAMP_HEADER = "X-Hitl-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, *, timestamp: str, body: bytes, signature: str, max_age: int = 300) -> bool:
    """What a receiver checks (used by the tests' fake receivers; receivers may copy it)."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_age:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class SignedWebhook:
    def __init__(self, url: str, secret: str, *, client: httpx.AsyncClient, name: str) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self._name = name

    async def call(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        receipt: str | None = None,
    ) -> ToolOutput:
        """POST one signed action; returns the receiver's JSON object. Reads (listing versions,
        incidents) have no idempotency key; an approved action carries its receipt."""
        payload = {"action": action, **arguments}
        if idempotency_key is not None:
            payload["idempotency_key"] = idempotency_key
        if receipt is not None:
            payload["receipt"] = receipt
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"{self._name} webhook unreachable: {type(exc).__name__}") from exc
        return answer(response, self._name)


def answer(response: httpx.Response, name: str) -> ToolOutput:
    """A JSON object from a 2xx response; a compact error otherwise."""
    if response.is_success:
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise RuntimeError(f"{name}: HTTP {response.status_code}, not JSON") from exc
        if not isinstance(data, dict):
            raise RuntimeError(f"{name}: HTTP {response.status_code}, not a JSON object")
        return data
    detail = _detail(response)
    if 400 <= response.status_code < 500:
        raise RetryableToolError(f"{name}: HTTP {response.status_code}: {detail}")
    raise RuntimeError(f"{name}: HTTP {response.status_code}: {detail}")


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        for field in ("error", "message"):
            if isinstance(data.get(field), str):
                return str(data[field])[:200]
    return response.text[:200]
