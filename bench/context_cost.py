"""6. A step's cost against its thread's length: one model step (`agents.runtime.loop.step`:
render the context within the agent's token budget, ask the model, validate its answer, append
it) of the deploy agent on a thread of 10 events, and on one of 200, alternated, model time
excluded. Each step is taken on a fresh copy of its thread (stored and read back with
agents/runtime/encoding.py, untimed), as a worker takes it after loading the thread; the
process has taken one step of each before (a worker that carries a thread on has rendered its
earlier events). The threads are finished requests (a mention, `list_versions`, its result,
`done_for_now`), then a mention, `list_versions` and its result, so the model is asked.

For reference (no target), the same with the thread's save (compare-and-set on a real
redis-server, no persistence) added: a save still writes the whole thread, so it grows with it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from agents.runtime import keys
from agents.runtime.agent import Agent
from agents.runtime.encoding import decode, encode
from agents.runtime.events import FINAL, Event, ToolCall, ToolResult, UserMessage
from agents.runtime.loop import StepDeps, step
from agents.runtime.store import ThreadStore
from agents.runtime.thread import Thread
from agents.runtime.types import ModelReply, ModelRequest
from bench.common import ALICE, Row, redis_url
from bot.agent_loading import BUILT_IN, load_agents

TARGET = 1.2
SHORT, LONG = 10, 200
DONE = json.dumps({"intent": FINAL, "message": "api runs 1.4.2."})


class _Model:
    """Done at once; the time spent here is taken out of the step's."""

    def __init__(self) -> None:
        self.seconds = 0.0

    async def next_step(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        reply = ModelReply(DONE)
        self.seconds += time.perf_counter() - started
        return reply


def _request(i: int, *, finished: bool) -> list[Event]:
    service = f"svc{i}"
    events: list[Event] = [
        UserMessage(user=ALICE, text=f"which versions of {service} can I deploy?"),
        ToolCall(call_id=f"c{i}a", intent="list_versions", arguments={"service": service}),
        ToolResult(
            call_id=f"c{i}a",
            intent="list_versions",
            output={"service": service, "versions": ["1.4.2", "1.4.1", "1.4.0"]},
        ),
    ]
    if finished:
        message = {"message": f"{service} can go to 1.4.2, 1.4.1 or 1.4.0."}
        events.append(ToolCall(call_id=f"c{i}b", intent=FINAL, arguments=message))
    return events


def thread_of(length: int, *, name: str) -> Thread:
    """A thread of `length` events (a multiple of 4, less 1, rounded up) waiting on the model."""
    events: list[Event] = []
    i = 0
    while len(events) + 3 < length:
        events += _request(i, finished=True)
        i += 1
    events += _request(i, finished=False)
    return Thread(id=name, agent="deploy", requester=ALICE, events=events)


async def _time(
    thread: Thread, model: _Model, take: Callable[[Thread], Awaitable[Thread]]
) -> float:
    fresh = decode(encode(thread))  # as a worker has it after a load
    model.seconds = 0.0
    started = time.perf_counter()
    stepped = await take(fresh)
    elapsed = time.perf_counter() - started - model.seconds
    assert len(stepped.events) == len(thread.events) + 1, stepped.events[-1]
    return elapsed


def _row(figure: str, short: list[float], long: list[float], *, target: bool) -> Row:
    s, lo = statistics.median(short) * 1e6, statistics.median(long) * 1e6
    spread = (
        f"IQR {_iqr(short):.0f} / {_iqr(long):.0f} µs, {len(short)} alternated pairs; "
        "model time excluded"
    )
    return Row(
        figure=figure,
        ours=f"{lo:,.0f} µs at {LONG} events",
        baseline=f"{s:,.0f} µs at {SHORT} events",
        ratio=f"{lo / s:.2f}×",
        target=f"≤ {TARGET}×" if target else "—",
        met=(lo <= TARGET * s) if target else None,
        note=spread,
    )


def _iqr(values: list[float]) -> float:
    q = statistics.quantiles(values, n=4)
    return (q[2] - q[0]) * 1e6


async def run(*, rounds: int) -> list[Row]:
    """`rounds` alternated pairs of steps (10 events, 200 events), then the same with saves."""
    agent: Agent = next(a for a in load_agents(BUILT_IN) if a.name == "deploy")
    model = _Model()
    deps = StepDeps(model=model)
    threads = {n: thread_of(n, name=f"bench-{n}") for n in (SHORT, LONG)}

    async def just_step(thread: Thread) -> Thread:
        return await step(thread, agent=agent, deps=deps)

    steps: dict[int, list[float]] = {SHORT: [], LONG: []}
    for n in (SHORT, LONG):  # what the process rendered before
        await _time(threads[n], model, just_step)
    for _ in range(rounds):
        for n in (SHORT, LONG):
            steps[n].append(await _time(threads[n], model, just_step))
    saves: dict[int, list[float]] = {SHORT: [], LONG: []}
    with redis_url() as url:
        redis = Redis.from_url(url)
        store = ThreadStore(redis)
        try:
            for n in (SHORT, LONG):
                await store.create(threads[n])

            async def step_and_save(thread: Thread) -> Thread:
                stepped = await step(thread, agent=agent, deps=deps)
                await store.save(stepped)
                return stepped

            for _ in range(rounds):
                for n in (SHORT, LONG):
                    # Each round saves over version 0 again, untimed: the same step, the same size.
                    await redis.hset(keys.thread(threads[n].id), "version", 0)
                    saves[n].append(await _time(threads[n], model, step_and_save))
        finally:
            await redis.aclose()
    return [
        _row("Model step at 200 vs 10 events", steps[SHORT], steps[LONG], target=True),
        _row("Model step + save at 200 vs 10 events", saves[SHORT], saves[LONG], target=False),
    ]
