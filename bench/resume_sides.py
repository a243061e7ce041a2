"""The two sides of the pause→resume benchmark (bench/resume.py), each a context manager that
yields one approval cycle to time: our runtime, and LangGraph with a SQLite or in-memory
checkpointer. Both run the same flow against the same simulated deploy adapter."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import aiosqlite
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt
from redis.asyncio import Redis

from agents.runtime.deadlines import Deadlines
from agents.runtime.events import ToolResult, call_hash
from agents.runtime.handling import Runtime
from agents.runtime.jobs import Decide, Launch
from agents.runtime.loop import StepDeps
from agents.runtime.metrics import Metrics
from agents.runtime.outbox import DeliveryLedger, Outbox
from agents.runtime.store import ThreadStore
from agents.runtime.thread import SlackOrigin, Thread
from agents.runtime.types import ModelReply, ModelRequest, Tell
from bench.common import ALICE, BOB, DEPLOYS, services
from bot.adapters import simulated_store
from bot.agent_loading import BUILT_IN, load_agents
from bot.services import policy_for
from tools.deploy import DEPLOY_TOOLS, DEPLOYER, Deploy, SimulatedDeployer
from tools.types import AdapterSet

SYNCHRONOUS = {"OFF": 0, "NORMAL": 1, "FULL": 2}  # what `PRAGMA synchronous` reads back

DEPLOY_CALL = {
    "intent": "deploy",
    "service": "api",
    "version": "1.4.2",
    "environment": "production",
}
DONE = {"intent": "done_for_now", "message": "Deployed api 1.4.2 to production."}


class _Clock:
    """Time spent inside the model, summed."""

    def __init__(self) -> None:
        self.seconds = 0.0


class _Model:
    """Deploy first; done once a tool result is in the thread. Timed."""

    def __init__(self, clock: _Clock) -> None:
        self._clock = clock

    async def next_step(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        done = any(isinstance(e, ToolResult) for e in request.thread.events)
        reply = ModelReply(json.dumps(DONE if done else DEPLOY_CALL))
        self._clock.seconds += time.perf_counter() - started
        return reply


class _Nobody:
    """A notifier that tells nobody (Slack's HTTP calls are not part of this figure)."""

    async def deliver(self, thread: Thread, index: int) -> list[str]:
        return []

    async def tell(self, thread: Thread, tell: Tell) -> list[str]:
        raise AssertionError(tell)

    async def working(self, thread: Thread, busy: bool) -> None:
        return None


class _Directory:
    async def members(self, ids: Collection[str]) -> frozenset[str]:
        return frozenset(ids)


Cycle = Callable[[int], Awaitable[float]]
"""One approval cycle on a fresh thread (numbered by the argument); returns its overhead in s."""


@asynccontextmanager
async def ours(url: str) -> AsyncIterator[Cycle]:
    """Our runtime on the redis-server at `url`."""
    settings = services(url, "http://127.0.0.1:9/").settings  # only the settings are used
    redis = Redis.from_url(url)
    clock = _Clock()
    store = ThreadStore(redis)
    deadlines = Deadlines(redis)
    metrics = Metrics()
    agents = load_agents(BUILT_IN)
    runtime = Runtime(
        store=store,
        agents=agents,
        deps=StepDeps(
            model=_Model(clock),
            adapters=AdapterSet.of(
                DEPLOYER.bind(SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)))
            ),
            policy=policy_for(settings, agents),
            scheduler=deadlines,
        ),
        outbox=Outbox(
            store=store,
            ledger=DeliveryLedger(redis),
            notifier=_Nobody(),
            deadlines=deadlines,
            metrics=metrics,
        ),
        directory=_Directory(),
        deadlines=deadlines,
        metrics=metrics,
        router=None,  # every launch goes to the deploy agent, as routing would send it
    )

    async def cycle(i: int) -> float:
        ts = f"1700000000.{i:06d}"
        origin = SlackOrigin(channel=DEPLOYS, thread_ts=ts)
        launch = Launch(
            user=ALICE, text="deploy api 1.4.2 to production", origin=origin, message_ts=ts
        )
        clock.seconds = 0.0
        started = time.perf_counter()
        await runtime.handle(launch)
        paused_at = time.perf_counter()
        # What the Approve button carries (read from Slack, not from the store): not timed.
        thread = await store.find(origin)
        loaded = await store.load(thread or "")
        assert loaded is not None
        request = loaded.open_request()
        assert request is not None and request.intent == "request_approval"
        decide = Decide(
            thread_id=loaded.id,
            call_id=request.call_id,
            action_hash=call_hash(request.action),
            approved=True,
            user=BOB,
        )
        resumed_at = time.perf_counter()
        await runtime.handle(decide)
        finished = time.perf_counter()
        done = await store.load(loaded.id)
        assert done is not None and done.status.value == "done", done
        return (paused_at - started) + (finished - resumed_at) - clock.seconds

    try:
        yield cycle
    finally:
        await redis.aclose()


class _State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _graph(deployer: SimulatedDeployer, clock: _Clock) -> StateGraph[_State]:
    async def agent(state: _State) -> dict[str, Any]:
        started = time.perf_counter()
        done = any(isinstance(m, ToolMessage) for m in state["messages"])
        if done:
            message = AIMessage(DONE["message"])
        else:
            args = {k: v for k, v in DEPLOY_CALL.items() if k != "intent"}
            # A fresh call id each cycle, as a model gives: it is the deploy's idempotency key.
            call = {"name": "deploy", "args": args, "id": f"call_{uuid.uuid4().hex[:24]}"}
            message = AIMessage("", tool_calls=[call])
        clock.seconds += time.perf_counter() - started
        return {"messages": [message]}

    def route(state: _State) -> str:
        last = state["messages"][-1]
        return "approval" if isinstance(last, AIMessage) and last.tool_calls else END

    async def approval(state: _State) -> Command[Any]:
        decision = interrupt({"summary": "Deploy api 1.4.2 to production"})
        return Command(goto="deploy" if decision["approved"] else "agent")

    async def deploy(state: _State) -> dict[str, Any]:
        last = state["messages"][-2 if isinstance(state["messages"][-1], ToolMessage) else -1]
        assert isinstance(last, AIMessage)
        call = last.tool_calls[0]
        output = await deployer.deploy(Deploy(**call["args"]), idempotency_key=str(call["id"]))
        return {"messages": [ToolMessage(json.dumps(output), tool_call_id=call["id"])]}

    graph = StateGraph(_State)
    graph.add_node("agent", agent)
    graph.add_node("approval", approval, destinations=("deploy", "agent"))
    graph.add_node("deploy", deploy)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["approval", END])
    graph.add_edge("deploy", "agent")
    return graph


@asynccontextmanager
async def langgraph(url: str, *, sqlite: Path | None, synchronous: str) -> AsyncIterator[Cycle]:
    """The LangGraph side: `AsyncSqliteSaver` on the file `sqlite` with `PRAGMA synchronous`
    set to `synchronous`, or `InMemorySaver` if `sqlite` is None. Deploy records on `url`."""
    redis = Redis.from_url(url)
    clock = _Clock()
    graph = _graph(SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS)), clock)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(redis.aclose)
        saver: BaseCheckpointSaver[Any] = InMemorySaver()
        if sqlite is not None:
            conn = await stack.enter_async_context(aiosqlite.connect(str(sqlite)))
            await conn.execute(f"PRAGMA synchronous={synchronous}")
            saver = AsyncSqliteSaver(conn)
        app = graph.compile(checkpointer=saver)

        async def cycle(i: int) -> float:
            config: Any = {"configurable": {"thread_id": f"t{i}"}}
            clock.seconds = 0.0
            started = time.perf_counter()
            first = await app.ainvoke(
                {"messages": [HumanMessage("deploy api 1.4.2 to production")]}, config
            )
            paused_at = time.perf_counter()
            assert "__interrupt__" in first
            resumed_at = time.perf_counter()
            last = await app.ainvoke(Command(resume={"approved": True, "user": BOB}), config)
            finished = time.perf_counter()
            assert last["messages"][-1].content == DONE["message"], last
            return (paused_at - started) + (finished - resumed_at) - clock.seconds

        yield cycle
        if sqlite is not None:  # the setting held for the whole run
            cursor = await conn.execute("PRAGMA synchronous")
            row = await cursor.fetchone()
            assert row is not None and row[0] == SYNCHRONOUS[synchronous], (row, synchronous)
            cursor = await conn.execute("PRAGMA journal_mode")
            row = await cursor.fetchone()
            assert row is not None and row[0] == "wal", row
