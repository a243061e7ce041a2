"""Counting for the reliability suite: each test fills a `Tally`, which is printed as one line
and attached to the JUnit report (`record_property`) whether the test passes or fails."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import BotProcess
from tests.reliability.support import Tally

# When a property fails, hypothesis' pytest plugin imports libcst to print a patch; libcst
# touches the deprecated mypy_extensions.TypedDict, which `filterwarnings = error` would turn
# into an INTERNALERROR hiding the failure. Import it once here, quietly.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401


@pytest.fixture
def tally(
    request: pytest.FixtureRequest, record_property: Callable[[str, Any], None]
) -> Iterator[Tally]:
    counts = Tally()
    yield counts
    for name, value in counts.items():
        record_property(name, value)
    print(f"\nRELIABILITY {request.node.name}: {counts.line()}")


@dataclass
class Target:
    """A bot's /slack/events and a client to hit it, with the test's counts."""

    client: httpx.AsyncClient
    url: str
    tally: Tally


@pytest.fixture
async def target(bot: BotProcess, tally: Tally) -> AsyncIterator[Target]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield Target(client, f"{bot.server.url}/slack/events", tally)
