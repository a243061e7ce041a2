"""The context costs the same per step however long the thread: each event is rendered once per
process, and only as many events as the budget shows are looked at. The text is exactly what
the renderer made before (tests/agents/runtime/context_reference.py), on random threads."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.runtime import context
from agents.runtime.events import (
    ApprovalDecision,
    Error,
    Event,
    HumanResponse,
    Paused,
    ReminderSent,
    Resumed,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.runtime.thread import Thread
from tests.agents.runtime import context_reference

WORDS = ["deploy", "api", "1.4.2", "to: production", "'quoted'", "- dash", "#hash", "é✓", "x" * 90]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))


def _event(rng: random.Random, i: int) -> Event:
    call = f"c{i}"
    makers: list[Any] = [
        lambda: UserMessage(user="U1", text=_text(rng)),
        lambda: ToolCall(call_id=call, intent="list_versions", arguments={"service": _text(rng)}),
        lambda: ToolResult(call_id=call, intent="list_versions", output={"v": [_text(rng)]}),
        lambda: Error(message=_text(rng)),
        lambda: Error(message=_text(rng), scope="delivery"),
        lambda: HumanResponse(call_id=call, user="U2", text=_text(rng)),
        lambda: ApprovalDecision(
            call_id=call, approved=rng.random() < 0.5, user="U2", action_hash="h", reason=None
        ),
        lambda: Paused(by="U3"),
        lambda: Resumed(by="U3"),
        lambda: ReminderSent(call_id=call),
    ]
    made: Event = rng.choice(makers)()
    return made


def _thread(rng: random.Random, length: int, name: str) -> Thread:
    return Thread(
        id=name, agent="deploy", requester="U1", events=[_event(rng, i) for i in range(length)]
    )


@pytest.mark.parametrize("seed", range(40))
def test_renders_exactly_as_before(seed: int) -> None:
    rng = random.Random(seed)
    thread = _thread(rng, rng.randint(0, 120), f"t{seed}")
    for budget in (None, 20, 60, 200, 800, 3000):
        expected = context_reference.render_context(thread, budget=budget)
        assert context.render_context(thread, budget=budget) == expected, budget
        # Again on a copy, as after a load: the memoised text is the same.
        copy = Thread.model_validate_json(thread.model_dump_json())
        assert context.render_context(copy, budget=budget) == expected, budget


def test_summarise_as_before() -> None:
    rng = random.Random(7)
    events = [_event(rng, i) for i in range(60)]
    for budget in (10, 40, 300):
        assert context.summarise(events, budget=budget) == context_reference.summarise(
            events, budget=budget
        )


@contextmanager
def _counting_renders() -> Iterator[list[Event]]:
    rendered: list[Event] = []
    real = context.render_event

    def counting(event: Event) -> str:
        rendered.append(event)
        return real(event)

    context.render_event = counting
    try:
        yield rendered
    finally:
        context.render_event = real


def test_each_event_is_rendered_once_and_only_the_tail_is_looked_at() -> None:
    rng = random.Random(3)
    thread = _thread(rng, 400, "tlong")
    with _counting_renders() as rendered:
        context.render_context(thread, budget=500)
        first = len(rendered)
        assert 0 < first < 100  # the budget shows the newest few, not all 400
        grown = thread.append(UserMessage(user="U1", text="one more"))
        reloaded = Thread.model_validate_json(grown.model_dump_json())
        context.render_context(reloaded, budget=500)
        assert rendered[first:] == [grown.events[-1]]  # only the new event


def test_another_thread_under_the_same_id_is_not_shown_the_old_text() -> None:
    first = Thread(
        id="tsame",
        agent="deploy",
        requester="U1",
        events=[UserMessage(user="U1", text="a", at=datetime(2026, 1, 1, tzinfo=UTC))],
    )
    later = UserMessage(user="U1", text="b", at=datetime(2026, 1, 2, tzinfo=UTC))
    second = first.model_copy(update={"events": [later]})
    assert "a" in context.render_context(first)
    assert context.render_context(second) == context_reference.render_context(second)
