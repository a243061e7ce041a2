"""3. Bytes stored per paused thread, for one 10-step scenario (bench/trace.py: a scripted model
lists the versions of 9 services, then asks to deploy api 1.4.2 to production, which waits for
approval). The same steps, with the same tool arguments and outputs, are replayed through:

- ours: the thread hash in Redis (its `version` and `json` fields, names and values, as stored).
- LangGraph: a `StateGraph` over `add_messages` (an agent node replaying the calls, a tools node
  returning the same outputs, an approval node calling `interrupt()`), run to the interrupt with
  `SqliteSaver`; bytes are every checkpoint, its metadata and its pending writes for the thread,
  which is what LangGraph keeps by default (and the latest checkpoint alone, for reference).
- Pydantic AI: an `Agent` on a `FunctionModel` replaying the calls, the deploy tool with
  `requires_approval=True`, run until it returns `DeferredToolRequests`; bytes are
  `ModelMessagesTypeAdapter.dump_json(result.all_messages())`, the history one stores to resume.
- OpenAI Agents SDK: an `Agent` on a scripted `Model` replaying the calls, the deploy tool with
  `needs_approval=True`, run until interrupted; bytes are the serialized `RunState`
  (`to_state().to_string()`), in a venv of its own (bench/openai_runstate.py, `sdk_python`).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt
from pydantic_ai import Agent, DeferredToolRequests
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agents.runtime.events import ToolCall, ToolResult, UserMessage
from agents.runtime.thread import Thread
from bench.common import Row

TARGET = 5

Step = tuple[str, dict[str, Any], dict[str, Any] | None]
"""(tool name, arguments, output) of one model step; output None: the gated call."""


def scenario(thread: Thread) -> tuple[str, list[Step]]:
    """The mention and the model's steps of our paused 10-step thread."""
    first = thread.events[0]
    assert isinstance(first, UserMessage)
    outputs = {e.call_id: e.output for e in thread.events if isinstance(e, ToolResult)}
    steps: list[Step] = []
    for event in thread.events:
        if not isinstance(event, ToolCall):
            continue
        if event.intent == "request_approval":
            action = dict(event.action)
            steps.append((str(action.pop("intent")), action, None))
        else:
            steps.append((event.intent, event.arguments, outputs[event.call_id]))
    return first.text, steps


class _State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def langgraph_bytes(text: str, steps: list[Step]) -> tuple[int, int]:
    """(all checkpoints and writes, latest checkpoint only) for the thread at its interrupt."""
    script = iter(steps)
    outputs: dict[str, dict[str, Any] | None] = {}

    def agent(state: _State) -> dict[str, Any]:
        name, args, output = next(script)
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        outputs[call_id] = output
        return {
            "messages": [AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])]
        }

    def route(state: _State) -> str:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        return "approval" if outputs[str(last.tool_calls[0]["id"])] is None else "tools"

    def tools(state: _State) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        call_id = str(last.tool_calls[0]["id"])
        return {"messages": [ToolMessage(json.dumps(outputs[call_id]), tool_call_id=call_id)]}

    def approval(state: _State) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        decision = interrupt({"action": last.tool_calls[0]})
        return {
            "messages": [ToolMessage(json.dumps(decision), tool_call_id=last.tool_calls[0]["id"])]
        }

    graph = StateGraph(_State)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_node("approval", approval)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", "approval"])
    graph.add_edge("tools", "agent")
    graph.add_edge("approval", END)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "checkpoints.sqlite"
        with SqliteSaver.from_conn_string(str(db)) as saver:
            app = graph.compile(checkpointer=saver)
            config: Any = {"configurable": {"thread_id": "t1"}}
            result = app.invoke({"messages": [HumanMessage(text)]}, config)
            assert "__interrupt__" in result, "the graph did not pause"
        conn = sqlite3.connect(db)
        try:
            (total,) = conn.execute(
                "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints"
            ).fetchone()
            (writes,) = conn.execute(
                "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes"
            ).fetchone()
            (latest,) = conn.execute(
                "SELECT LENGTH(checkpoint) + LENGTH(metadata) FROM checkpoints"
                " ORDER BY checkpoint_id DESC LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
    return int(total + writes), int(latest)


async def pydantic_ai_bytes(text: str, steps: list[Step]) -> int:
    """Bytes of the message history of a Pydantic AI run paused on the approval."""
    by_name = {name: output for name, _, output in steps if output is not None}
    turn = iter(steps)

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        name, args, _ = next(turn)
        return ModelResponse(parts=[ToolCallPart(name, args)])

    agent = Agent(FunctionModel(model), output_type=[str, DeferredToolRequests])
    outputs = iter(output for _, _, output in steps if output is not None)

    @agent.tool_plain
    def list_versions(service: str) -> dict[str, Any]:
        """List the versions of a service."""
        return dict(next(outputs))

    @agent.tool_plain(requires_approval=True)
    def deploy(service: str, version: str, environment: str) -> dict[str, Any]:
        """Deploy a version of a service."""
        raise AssertionError("runs only once approved")

    assert set(by_name) <= {"list_versions"}, by_name
    result = await agent.run(text)
    assert isinstance(result.output, DeferredToolRequests), result.output
    return len(ModelMessagesTypeAdapter.dump_json(result.all_messages()))


SDK_VENV = Path.home() / ".cache" / "slack-hitl-bench" / "openai-agents"
SDK_REQUIREMENT = "openai-agents==0.24.0"


def sdk_python(*, create: bool) -> Path | None:
    """An interpreter with the OpenAI Agents SDK, in a venv of its own (made on first use, from
    PyPI): the SDK's top-level package is `agents`, like ours, and installed beside the project
    it shadows our `agents` everywhere but the repo root (the `hitl` command breaks)."""
    python = SDK_VENV / "bin" / "python"
    if not python.exists() and not create:
        return None
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", SDK_REQUIREMENT]
        subprocess.run(pip, check=True, timeout=600)
    return python


def openai_agents_bytes(text: str, steps: list[Step], *, python: Path) -> int:
    """Bytes of the SDK's serialized RunState, from bench/openai_runstate.py in its own venv."""
    script = Path(__file__).with_name("openai_runstate.py")
    done = subprocess.run(
        [str(python), "-I", str(script)],
        input=json.dumps({"text": text, "steps": steps}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(done.stdout.strip())


async def run(thread: Thread, stored: int, *, make_sdk_venv: bool = True) -> list[Row]:
    """Rows for figure 3: `thread` is our paused 10-step thread, `stored` its bytes in Redis.
    Without `make_sdk_venv` the SDK row is measured only if its venv already exists."""
    text, steps = scenario(thread)
    assert len(steps) == 10, len(steps)
    all_checkpoints, latest = langgraph_bytes(text, steps)
    others: dict[str, int | None] = {
        "Pydantic AI message history": await pydantic_ai_bytes(text, steps),
    }
    python = sdk_python(create=make_sdk_venv)
    sdk = openai_agents_bytes(text, steps, python=python) if python else None
    others["OpenAI Agents SDK RunState"] = sdk
    note = "same 10 steps, arguments and tool outputs; see bench/storage.py for what is counted"
    rows = [
        Row(
            figure="Bytes per paused thread vs LangGraph (10 steps)",
            ours=f"{stored:,} B",
            baseline=f"{all_checkpoints:,} B (all checkpoints, SQLite)",
            ratio=f"1/{all_checkpoints / stored:.1f}",
            target="≤ 1/5 of LangGraph",
            met=stored * TARGET <= all_checkpoints,
            note=note,
        ),
        Row(
            figure="Bytes per paused thread vs LangGraph latest checkpoint",
            ours=f"{stored:,} B",
            baseline=f"{latest:,} B (latest checkpoint only)",
            ratio=f"1/{latest / stored:.1f}",
            target="—",
            met=None,
            note="for reference: LangGraph with its history pruned to the last checkpoint",
        ),
    ]
    for name, size in others.items():
        rows.append(
            Row(
                figure=f"Bytes per paused thread vs {name}",
                ours=f"{stored:,} B",
                baseline=f"{size:,} B" if size else "not measured",
                ratio=f"1/{size / stored:.1f}" if size else "—",
                target="—",
                met=None,
                note=note if size else f"no venv at {SDK_VENV} yet; a full run makes it",
            )
        )
    return rows
