"""Retries, backoff, timeouts and error messages of the provider HTTP layer, through the real
OpenAI client against a fake server (and a port nobody listens on)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from starlette.responses import PlainTextResponse

from agents.models.llm_http import Retry
from agents.models.llm_openai import OpenAIModel
from agents.runtime.types import ModelError
from bot.serving import free_port
from tests.agents.models.fake_providers import (
    FAST,
    OPENAI_KEY,
    FakeProvider,
    Hang,
    deploy_request,
    error,
    openai_tool_call,
)

DONE = openai_tool_call("done_for_now", {"message": "ok"})


def client(url: str, *, retry: Retry = FAST, read_timeout: float = 2.0) -> OpenAIModel:
    return OpenAIModel(
        model="gpt-test",
        base_url=f"{url}/v1",
        api_key=OPENAI_KEY,
        retry=retry,
        timeout=httpx.Timeout(read_timeout, connect=1.0),
    )


async def test_a_server_error_is_retried_then_succeeds(provider: FakeProvider) -> None:
    provider.script(error(500, "boom"), error(503, "busy"), DONE)
    model = client(provider.url)
    try:
        reply = await model.next_step(deploy_request())
    finally:
        await model.aclose()
    assert json.loads(reply.text) == {"intent": "done_for_now", "message": "ok"}
    assert len(provider.requests) == 3
    # Every attempt sends the same request.
    assert all(r.json == provider.requests[0].json for r in provider.requests)


async def test_after_the_last_attempt_the_error_says_what_the_provider_said(
    provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    provider.fallback = error(500, f"The server had an error (key {OPENAI_KEY})")
    model = client(provider.url)
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(ModelError) as raised:
            await model.next_step(deploy_request())
    finally:
        await model.aclose()

    assert len(provider.requests) == FAST.attempts
    assert str(raised.value) == (
        "openai: HTTP 500: The server had an error (key ***) (gave up after 3 attempts)"
    )
    retries = [r.getMessage() for r in caplog.records if r.name == "agents.models.llm_http"]
    assert len(retries) == FAST.attempts - 1
    assert all("HTTP 500" in line and OPENAI_KEY not in line for line in retries)
    assert all(OPENAI_KEY not in r.getMessage() for r in caplog.records)


async def test_rate_limits_wait_as_long_as_retry_after_says(provider: FakeProvider) -> None:
    provider.script(
        error(429, "Rate limit reached", headers={"Retry-After": "0.3"}),
        error(429, "Rate limit reached", headers={"retry-after-ms": "150"}),
        DONE,
    )
    model = client(provider.url)
    try:
        await model.next_step(deploy_request())
    finally:
        await model.aclose()

    first, second, third = (r.at for r in provider.requests)
    assert second - first >= 0.3
    assert third - second >= 0.15
    # The backoff alone (base 1 ms) would not have waited that long.
    assert FAST.base_delay * 4 < 0.15


async def test_a_retry_after_longer_than_max_delay_fails_at_once(provider: FakeProvider) -> None:
    provider.script(error(429, "Rate limit reached", headers={"Retry-After": "120"}), DONE)
    model = client(provider.url)
    try:
        with pytest.raises(ModelError, match=r"HTTP 429: Rate limit reached \(retry after 120s\)"):
            await model.next_step(deploy_request())
    finally:
        await model.aclose()
    assert len(provider.requests) == 1


async def test_client_errors_other_than_429_are_not_retried(provider: FakeProvider) -> None:
    provider.script(error(400, "Invalid schema for function 'deploy'"), DONE)
    model = client(provider.url)
    try:
        with pytest.raises(ModelError, match=r"^openai: HTTP 400: Invalid schema"):
            await model.next_step(deploy_request())
    finally:
        await model.aclose()
    assert len(provider.requests) == 1


async def test_a_read_timeout_is_retried(provider: FakeProvider) -> None:
    provider.script(Hang(1.0), DONE)
    model = client(provider.url, read_timeout=0.1)
    try:
        reply = await model.next_step(deploy_request())
    finally:
        await model.aclose()
    assert json.loads(reply.text)["intent"] == "done_for_now"
    assert len(provider.requests) == 2


async def test_timeouts_on_every_attempt_end_in_a_model_error(provider: FakeProvider) -> None:
    provider.fallback = Hang(1.0)
    model = client(provider.url, retry=Retry(attempts=2, base_delay=0.001), read_timeout=0.1)
    try:
        with pytest.raises(ModelError, match=r"^openai: ReadTimeout \(gave up after 2 attempts\)$"):
            await model.next_step(deploy_request())
    finally:
        await model.aclose()
    assert len(provider.requests) == 2


async def test_nobody_listening_is_retried_then_a_model_error() -> None:
    model = client(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ModelError, match=r"^openai: ConnectError.*gave up after 3 attempts"):
            await model.next_step(deploy_request())
    finally:
        await model.aclose()


async def test_a_body_that_is_not_json_is_a_model_error(provider: FakeProvider) -> None:
    provider.script(PlainTextResponse("<html>proxy says hi</html>"))
    model = client(provider.url)
    try:
        with pytest.raises(ModelError, match="HTTP 200 but the body is not a JSON object"):
            await model.next_step(deploy_request())
    finally:
        await model.aclose()


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    retry = Retry(attempts=6, base_delay=1.0, max_delay=5.0)
    for _ in range(50):
        assert 0.5 <= retry.backoff(1) <= 1.0
        assert 1.0 <= retry.backoff(2) <= 2.0
        assert 2.0 <= retry.backoff(3) <= 4.0
        assert 2.5 <= retry.backoff(5) <= 5.0
