"""The fan-out benchmark stays runnable: a few threads on one and two real worker processes,
every approval card counted, the connections to the emulator counted."""

from __future__ import annotations

import pytest

from bench import fanout

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_a_small_fan_out_produces_both_rows() -> None:
    rows = await fanout.run(threads=12, repeats=1, model_seconds=0.1)

    assert [row.figure for row in rows] == [
        "All 12 approval cards posted, 1 worker (model 0.1 s/step)",
        "All 12 approval cards posted, 2 workers (model 0.1 s/step)",
    ]
    assert all(row.met is not None and row.ours.endswith(" s") for row in rows)
    assert all("connections opened per run" in row.note for row in rows)


def test_connections_are_counted_from_the_socket_table() -> None:
    assert fanout.emulator_connections(1) == 0  # nothing listens on port 1
