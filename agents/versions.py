"""Which versions of a service exist, as the deploy planner checks them: a version that
`list_versions` does not list never reaches an approval card; the person is asked instead,
with the listed versions closest to the one they wrote."""

from __future__ import annotations

import re

from agents.runtime.planning import call, result
from agents.runtime.thread import Thread

SUGGESTIONS = 3
_NUMBERS = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def listed_versions(thread: Thread, service: str) -> list[str] | None:
    """The versions of `service` listed during the latest request (newest first, as
    `list_versions` returns them); None when they were not listed yet."""
    out = result(thread, "list_versions")
    if out is None or out.get("service") != service:
        return None
    versions = out.get("versions")
    return [str(v).lstrip("vV") for v in versions] if isinstance(versions, list) else []


def closest(version: str, listed: list[str], *, count: int = SUGGESTIONS) -> list[str]:
    """Up to `count` listed versions, nearest to `version` first (major, then minor, then
    patch distance); among equally near ones the newest (earliest listed) first."""
    wanted = _numbers(version)
    ranked = sorted(
        enumerate(listed),
        key=lambda item: (
            tuple(abs(a - b) for a, b in zip(_numbers(item[1]), wanted, strict=True)),
            item[0],
        ),
    )
    return [v for _, v in ranked[:count]]


def which_version(service: str, version: str, listed: list[str]) -> str:
    """The question (a `request_input` call) for a version `listed` does not hold."""
    bare = version.lstrip("vV")
    if not listed:
        question = f"{service} has no version {bare}, and I found no versions of {service}."
        return call("request_input", question=f"{question} Which version should I deploy?")
    offered = closest(bare, listed)
    which = "latest" if offered == listed[: len(offered)] else "closest"
    verb = "are" if len(offered) > 1 else "is"
    question = (
        f"{service} has no version {bare}; the {which} {verb} {', '.join(offered)} — which one?"
    )
    return call("request_input", question=question, options=[v for v in offered if len(v) <= 75])


def _numbers(version: str) -> tuple[int, int, int]:
    found = _NUMBERS.search(version)
    if found is None:
        return (0, 0, 0)
    return (int(found[1]), int(found[2]), int(found[3]))
