"""The request bodies of figure 5 (bench/tokens.py), each client pointed at a fake provider
(bench/fake_provider.py) that scripts the 10 steps of the 10-step trace (bench/trace.py):

- ours: our `OpenAIModel` (chat completions), through the real bot (Slack emulator, Redis,
  worker), paused at the approval;
- the OpenAI Agents SDK: its default model (the Responses API), in a venv of its own
  (bench/openai_agent_requests.py), interrupted by the deploy tool's `needs_approval`;
- LangGraph's prebuilt ReAct agent (`create_react_agent` over `langchain_openai.ChatOpenAI`,
  chat completions), paused by `interrupt()` in the deploy tool.

The baselines get the deploy agent's prompt as instructions and the tools the way their
frameworks take them (`baseline_tools`)."""

from __future__ import annotations

import inspect
import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agents.deploy import AGENT as DEPLOY
from agents.models.llm_openai import OpenAIModel
from agents.runtime.thread import Thread
from bench import trace
from bench.fake_provider import Call, fake_provider
from tools.human import Escalate, RequestInput


def _script() -> list[Call]:
    return [
        (step["intent"], {k: v for k, v in step.items() if k != "intent"})
        for step in trace.TEN_STEPS
    ]


async def ours_bodies() -> tuple[list[dict[str, Any]], Thread]:
    """Our OpenAI client's 10 request bodies on the 10-step trace, run through the real bot."""
    with fake_provider(_script()) as fake:
        model = OpenAIModel(model="gpt-4o", base_url=fake.url, api_key="sk-fake")
        try:
            thread, _ = await trace.ten_step_thread(model)
        finally:
            await model.aclose()
        return list(fake.bodies), thread


GATED = frozenset({"deploy", "rollback"})
"""The deploy agent's tools that wait for approval in production, as policy has them."""


def baseline_tools() -> list[dict[str, Any]]:
    """The deploy agent's tools for the frameworks: name, docstring and the schema pydantic
    generates for the arguments (what a framework makes of a typed function), no `intent`."""
    tools = []
    models: tuple[type[BaseModel], ...] = (*DEPLOY.tools, RequestInput, Escalate)
    for model in models:
        name = model.model_fields["intent"].default
        schema = model.model_json_schema()
        schema.pop("description", None)
        schema["properties"].pop("intent")
        tools.append(
            {
                "name": name,
                "description": inspect.getdoc(model) or "",  # as ours: the same docstring
                "parameters": schema,
                "needs_approval": name in GATED,
            }
        )
    return tools


def sdk_bodies(text: str, outputs: list[Any], *, python: Path) -> list[dict[str, Any]]:
    """The OpenAI Agents SDK's request bodies on the same trace (bench/openai_agent_requests.py,
    in the SDK's own venv)."""
    script = Path(__file__).with_name("openai_agent_requests.py")
    with fake_provider(_script()) as fake:
        given = {
            "base_url": fake.url,
            "text": text,
            "instructions": DEPLOY.prompt,
            "tools": baseline_tools(),
            "outputs": outputs,
        }
        done = subprocess.run(
            [str(python), "-I", str(script)],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert done.stdout.strip() == "1", done.stdout + done.stderr
        return list(fake.bodies)


async def langgraph_bodies(text: str, outputs: list[Any]) -> list[dict[str, Any]]:
    """LangGraph's prebuilt ReAct agent's request bodies on the same trace."""
    from langchain_core.tools import StructuredTool
    from langchain_openai import ChatOpenAI
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import interrupt

    with warnings.catch_warnings():
        # LangGraph 1.x points to langchain's `create_agent`; the prebuilt one is what it has.
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

    results = iter(outputs)

    def tool(spec: dict[str, Any]) -> StructuredTool:
        async def run(**arguments: Any) -> str:
            if spec["needs_approval"]:
                return json.dumps(interrupt({"tool": spec["name"], "arguments": arguments}))
            return json.dumps(next(results))

        return StructuredTool(
            name=spec["name"],
            description=spec["description"],
            args_schema=spec["parameters"],
            coroutine=run,
        )

    with fake_provider(_script()) as fake:
        model = ChatOpenAI(model="gpt-4o", base_url=fake.url, api_key="sk-fake", max_retries=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            agent = create_react_agent(
                model,
                [tool(spec) for spec in baseline_tools()],
                prompt=DEPLOY.prompt,
                checkpointer=InMemorySaver(),
            )
        config: Any = {"configurable": {"thread_id": "t1"}}
        result = await agent.ainvoke({"messages": [("user", text)]}, config)
        assert "__interrupt__" in result, "the agent did not pause for approval"
        return list(fake.bodies)
