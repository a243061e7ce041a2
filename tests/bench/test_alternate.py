"""The alternation and the spread that the timed benchmarks report (bench/common.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bench.common import Spread, alternate


async def test_sides_take_turns_and_the_first_rotates() -> None:
    order: list[tuple[str, int]] = []

    def side(name: str) -> Callable[[int], Awaitable[float]]:
        async def cycle(i: int) -> float:
            order.append((name, i))
            return float(i)

        return cycle

    got = await alternate({"a": side("a"), "b": side("b")}, cycles=3, warmup=1)
    assert order == [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2), ("b", 2), ("b", 3), ("a", 3)]
    assert got == {"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0, 3.0]}  # warm-up rounds dropped


def test_a_cell_shows_the_median_run_and_the_range() -> None:
    assert Spread((3.0, 1.0, 2.0)).cell() == "2.00 ms (1.00–3.00)"
    assert Spread((9.5, 10.25, 12.0)).cell("× less", 1) == "10.2× less (9.5–12.0)"
