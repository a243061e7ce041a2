"""The OpenAI-compatible client against a fake chat-completions server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from agents.deploy import AGENT as DEPLOY
from agents.models.llm_openai import OpenAIModel
from agents.runtime.events import Usage
from agents.runtime.types import ModelError
from tests.agents.models.fake_providers import (
    APPROVAL,
    FAST,
    OPENAI_KEY,
    PROD,
    FakeProvider,
    deploy_request,
    error,
    openai_text,
    openai_tool_call,
)
from tools.human import RequestApproval


@pytest.fixture
async def model(provider: FakeProvider) -> AsyncIterator[OpenAIModel]:
    client = OpenAIModel(
        model="gpt-test", base_url=f"{provider.url}/v1", api_key=OPENAI_KEY, retry=FAST
    )
    yield client
    await client.aclose()


async def test_request_has_system_context_tools_and_required_tool_choice(
    provider: FakeProvider, model: OpenAIModel
) -> None:
    provider.script(openai_tool_call("request_approval", APPROVAL))
    asked = deploy_request()
    await model.next_step(asked)

    [sent] = provider.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.json["model"] == "gpt-test"
    assert sent.json["messages"] == [
        {"role": "system", "content": asked.system},
        {"role": "user", "content": asked.context},
    ]
    assert "<user_message>" in sent.json["messages"][1]["content"]
    assert sent.json["tool_choice"] == "required"
    assert sent.json["tools"] == [
        {"type": "function", "function": tool} for tool in DEPLOY.tool_schemas()
    ]
    names = {t["function"]["name"] for t in sent.json["tools"]}
    assert {"deploy", "request_approval", "request_input", "done_for_now"} <= names


async def test_a_local_server_needs_no_key(provider: FakeProvider) -> None:
    provider.script(openai_tool_call("done_for_now", {"message": "hi"}))
    client = OpenAIModel(model="llama3.1", base_url=f"{provider.url}/v1/", retry=FAST)
    try:
        await client.next_step(deploy_request())
    finally:
        await client.aclose()
    assert provider.requests[0].path == "/v1/chat/completions"
    assert "authorization" not in provider.requests[0].headers


async def test_a_tool_call_becomes_one_typed_step_with_usage(
    provider: FakeProvider, model: OpenAIModel
) -> None:
    # The model also sent an `intent` argument that contradicts the tool it called: the
    # tool's name wins.
    provider.script(
        openai_tool_call(
            "request_approval",
            APPROVAL | {"intent": "deploy"},
            prompt_tokens=512,
            completion_tokens=64,
        )
    )
    reply = await model.next_step(deploy_request())

    assert json.loads(reply.text) == {"intent": "request_approval", **APPROVAL}
    assert reply.usage == Usage(input_tokens=512, output_tokens=64)
    step = DEPLOY.parse_step(reply.text)
    assert isinstance(step, RequestApproval)


async def test_arguments_sent_as_an_object_are_accepted(
    provider: FakeProvider, model: OpenAIModel
) -> None:
    provider.script(openai_tool_call("deploy", PROD, as_object=True))
    reply = await model.next_step(deploy_request())
    assert json.loads(reply.text) == PROD


async def test_malformed_arguments_are_passed_on_for_the_loop_to_reject(
    provider: FakeProvider, model: OpenAIModel
) -> None:
    broken = '{"service": "api" "version": "1.4.2"}'
    provider.script(openai_tool_call("deploy", broken))
    reply = await model.next_step(deploy_request())

    assert reply.text == broken
    assert reply.usage == Usage(input_tokens=321, output_tokens=45)
    with pytest.raises(ValueError, match="delimiter"):
        DEPLOY.parse_step(reply.text)


async def test_plain_text_is_passed_on_as_it_is(provider: FakeProvider, model: OpenAIModel) -> None:
    provider.script(openai_text("Sure, deploying api now!"))
    reply = await model.next_step(deploy_request())
    assert reply.text == "Sure, deploying api now!"
    assert reply.usage == Usage(input_tokens=300, output_tokens=12)


async def test_a_response_without_choices_is_a_model_error(
    provider: FakeProvider, model: OpenAIModel
) -> None:
    provider.script(openai_text("x"), error(200, "unused"))
    await model.next_step(deploy_request())
    with pytest.raises(ModelError, match="no choices"):
        await model.next_step(deploy_request())


async def test_a_bad_key_fails_at_once_without_echoing_it(
    provider: FakeProvider, model: OpenAIModel
) -> None:
    provider.script(error(401, f"Incorrect API key provided: {OPENAI_KEY}."))
    with pytest.raises(ModelError) as raised:
        await model.next_step(deploy_request())

    assert len(provider.requests) == 1
    assert str(raised.value).startswith("openai: HTTP 401: Incorrect API key provided")
    assert OPENAI_KEY not in str(raised.value)
