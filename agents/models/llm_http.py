"""HTTP behaviour shared by the LLM clients: timeouts, bounded retries with backoff, and provider
failures turned into a short `ModelError` (status and the provider's own message, never a key).

Retried: 429 (waiting as long as `Retry-After` says), 5xx (Anthropic's 529 "overloaded"
included), timeouts and dropped connections. Any other 4xx fails at once: asking again with the
same key and body cannot help."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from agents.runtime.types import ModelError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)
"""httpx keeps only 20 of its 100 connections alive by default: with more calls than that at
once, the rest would be opened and closed for every call."""
"""Per attempt: 5 s to connect, 60 s for each read (a whole completion arrives in one read)."""

MAX_MESSAGE_CHARS = 200

# Dropped or stalled connections; asking again may work. Other transport errors (a malformed
# base URL, an unsupported scheme) would fail the same way every time.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_*.-]{6,}")
_SECRETS = frozenset({"authorization", "x-api-key"})


@dataclass(frozen=True)
class Retry:
    """How hard to try: `attempts` requests in all, waiting about `base_delay * 2**n` (with
    jitter) between them. A `Retry-After` longer than `max_delay` is not waited out: the step
    fails at once, so a rate-limited provider cannot hold a worker for minutes."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("Retry needs at least one attempt")

    def backoff(self, failures: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        return random.uniform(ceiling / 2, ceiling)


class ProviderHTTP:
    """One provider's endpoint: a pooled `httpx.AsyncClient` that posts JSON and returns JSON,
    or raises `ModelError`. Close it with `aclose()`."""

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: dict[str, str],
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        limits: httpx.Limits = DEFAULT_LIMITS,
    ) -> None:
        self.provider = provider
        self._retry = retry or Retry()
        keys = (v.removeprefix("Bearer ") for k, v in headers.items() if k.lower() in _SECRETS)
        self._secrets = [key for key in keys if key.strip()]
        # One client, so one connection pool, for every call this process makes.
        self._client = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, limits=limits
        )

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        failure = ""
        for attempt in range(1, self._retry.attempts + 1):
            try:
                response = await self._client.post(path, json=body)
            except _TRANSIENT as exc:
                failure = _describe(exc)
                delay = self._retry.backoff(attempt)
            except httpx.HTTPError as exc:
                raise self._error(_describe(exc)) from exc
            else:
                if response.is_success:
                    return self._json(response)
                failure = f"HTTP {response.status_code}: {_provider_message(response)}"
                if not _retryable(response.status_code):
                    raise self._error(failure)
                asked = _retry_after(response)
                delay = self._retry.backoff(attempt) if asked is None else asked
                if delay > self._retry.max_delay:
                    raise self._error(f"{failure} (retry after {delay:.0f}s)")
            if attempt < self._retry.attempts:
                log.warning(
                    "%s: %s; retrying in %.2fs (attempt %d of %d)",
                    self.provider,
                    self._redact(failure),
                    delay,
                    attempt,
                    self._retry.attempts,
                )
                await asyncio.sleep(delay)
        raise self._error(f"{failure} (gave up after {self._retry.attempts} attempts)")

    async def aclose(self) -> None:
        await self._client.aclose()

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._error(f"HTTP {response.status_code} but the body is not a JSON object")
        return data

    def _error(self, message: str) -> ModelError:
        return ModelError(f"{self.provider}: {self._redact(message)}")

    def _redact(self, message: str) -> str:
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return _KEY_LIKE.sub("***", message)


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _describe(exc: httpx.HTTPError) -> str:
    # httpx's timeout exceptions often have an empty message; the class name says enough.
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _provider_message(response: httpx.Response) -> str:
    """The provider's own error text. OpenAI and Anthropic send {"error": {"message"}}; some
    compatible servers send {"error": "..."} or {"message": "..."}."""
    try:
        data: Any = response.json()
    except ValueError:
        data = response.text
    message: Any = data
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict):
            message = error.get("message") or error.get("type") or error
        else:
            message = error or data.get("message") or data.get("detail") or data
    text = " ".join(str(message).split()) or response.reason_phrase
    return _truncate(text)


def _truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the provider asked us to wait: `retry-after-ms` (OpenAI), else `Retry-After` as
    seconds or an HTTP date."""
    millis = response.headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
