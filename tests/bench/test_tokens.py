"""The billed-tokens figure: the fake provider records what real clients send, and both API
shapes are counted the same way, as a provider bills them."""

from __future__ import annotations

import json

import pytest

pytest.importorskip(
    "bpe_openai", reason='the bench extra is not installed: pip install -e ".[bench]"'
)

from bpe_openai import get_encoding

from agents.models.llm_openai import OpenAIModel, chat_request
from bench.fake_provider import fake_provider
from bench.tokens import billed_run, billed_tokens
from tests.agents.models.fake_providers import deploy_request

TOOL = {"name": "deploy", "description": "Deploy.", "parameters": {"type": "object"}}
ARGS = json.dumps({"service": "api"})
OUTPUT = json.dumps({"versions": ["1.4.2"]})


def test_chat_and_responses_bodies_of_one_conversation_count_the_same() -> None:
    chat = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "deploy api"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "deploy", "arguments": ARGS},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": OUTPUT},
        ],
        "tools": [{"type": "function", "function": TOOL}],
    }
    responses = {
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "deploy api"},
            {"type": "function_call", "call_id": "c1", "name": "deploy", "arguments": ARGS},
            {"type": "function_call_output", "call_id": "c1", "output": OUTPUT},
        ],
        "tools": [{"type": "function", "strict": True, **TOOL}],
    }
    assert billed_tokens(chat) == billed_tokens(responses) > 0


def test_text_is_counted_as_read_not_as_escaped_json() -> None:
    enc = get_encoding("cl100k_base")
    text = 'two\nlines with "quotes"'
    body = {"messages": [{"role": "user", "content": text}]}
    assert billed_tokens(body) == len(enc.encode("user")) + len(enc.encode(text)) + 3 + 3
    assert len(enc.encode(json.dumps(text))) > len(enc.encode(text))


async def test_the_fake_provider_records_our_clients_body_and_scripts_its_reply() -> None:
    request = deploy_request()
    with fake_provider([("list_versions", {"service": "api"})]) as fake:
        model = OpenAIModel(model="gpt-4o", base_url=fake.url, api_key="sk-fake")
        try:
            reply = await model.next_step(request)
            final = await model.next_step(request)
        finally:
            await model.aclose()
    assert json.loads(reply.text) == {"intent": "list_versions", "service": "api"}
    assert final.text == "Done."  # the script is over: a final answer in prose
    assert fake.bodies == [chat_request("gpt-4o", request)] * 2


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_billed_run_captures_ten_steps_on_every_side() -> None:
    pytest.importorskip("langchain_openai", reason="the bench extra is not installed")
    rows = await billed_run(make_sdk_venv=False)  # the SDK row is measured if its venv exists
    assert [r.figure.split(" vs ")[1] for r in rows] == [
        "LangGraph create_react_agent (10 steps)",
        "OpenAI Agents SDK (10 steps)",
    ]
    langgraph = rows[0]
    assert langgraph.met is not None and "step 10" in langgraph.ours, langgraph
    assert "per step, ours [" in langgraph.note
