"""The Anthropic Messages client against a fake Messages API server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from starlette.responses import JSONResponse

from agents.deploy import AGENT as DEPLOY
from agents.models.llm_anthropic import AnthropicModel
from agents.runtime.events import Usage
from agents.runtime.types import ModelError
from tests.agents.models.fake_providers import (
    ANTHROPIC_KEY,
    APPROVAL,
    FAST,
    FakeProvider,
    anthropic_error,
    anthropic_text,
    anthropic_tool_use,
    deploy_request,
)
from tools.human import RequestApproval


@pytest.fixture
async def model(provider: FakeProvider) -> AsyncIterator[AnthropicModel]:
    client = AnthropicModel(
        model="claude-test", api_key=ANTHROPIC_KEY, base_url=provider.url, retry=FAST
    )
    yield client
    await client.aclose()


async def test_request_has_system_tools_any_tool_choice_and_headers(
    provider: FakeProvider, model: AnthropicModel
) -> None:
    provider.script(anthropic_tool_use("request_approval", APPROVAL))
    asked = deploy_request()
    await model.next_step(asked)

    [sent] = provider.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert sent.json["model"] == "claude-test"
    assert sent.json["max_tokens"] == 1024
    assert sent.json["system"] == asked.system
    assert sent.json["messages"] == [{"role": "user", "content": asked.context}]
    assert sent.json["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert sent.json["tools"] == [
        {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]}
        for t in DEPLOY.tool_schemas()
    ]


async def test_the_tool_use_block_becomes_one_typed_step_with_usage(
    provider: FakeProvider, model: AnthropicModel
) -> None:
    provider.script(
        anthropic_tool_use("request_approval", APPROVAL, input_tokens=700, output_tokens=80)
    )
    reply = await model.next_step(deploy_request())

    assert json.loads(reply.text) == {"intent": "request_approval", **APPROVAL}
    assert reply.usage == Usage(input_tokens=700, output_tokens=80)
    assert isinstance(DEPLOY.parse_step(reply.text), RequestApproval)


async def test_cached_prompt_tokens_count_as_input(
    provider: FakeProvider, model: AnthropicModel
) -> None:
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 200,
        "cache_read_input_tokens": 1000,
        "output_tokens": 30,
    }
    content = [{"type": "tool_use", "id": "toolu_1", "name": "done_for_now", "input": {}}]
    provider.script(JSONResponse({"type": "message", "content": content, "usage": usage}))
    reply = await model.next_step(deploy_request())
    assert reply.text == '{"intent": "done_for_now"}'
    assert reply.usage == Usage(input_tokens=1210, output_tokens=30)


async def test_text_without_a_tool_call_is_passed_on_as_it_is(
    provider: FakeProvider, model: AnthropicModel
) -> None:
    provider.script(anthropic_text("I think we should deploy."))
    reply = await model.next_step(deploy_request())
    assert reply.text == "I think we should deploy."
    with pytest.raises(ValueError):
        DEPLOY.parse_step(reply.text)


async def test_overloaded_is_retried_and_a_bad_key_is_not(
    provider: FakeProvider, model: AnthropicModel
) -> None:
    provider.script(
        anthropic_error(529, "overloaded_error", "Overloaded"),
        anthropic_tool_use("done_for_now", {"message": "ok"}),
        anthropic_error(401, "authentication_error", "invalid x-api-key"),
    )
    reply = await model.next_step(deploy_request())
    assert json.loads(reply.text) == {"intent": "done_for_now", "message": "ok"}
    assert len(provider.requests) == 2

    with pytest.raises(ModelError, match=r"^anthropic: HTTP 401: invalid x-api-key$"):
        await model.next_step(deploy_request())
    assert len(provider.requests) == 3
