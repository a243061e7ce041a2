"""Where a running sandbox can be reached: a small JSON file the sandbox writes when it is ready
and removes on exit, so `hitl threads ...` and `hitl audit ...` find its Redis (on a random
port) and its emulator without any environment variables. A file whose process died is ignored."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

STATE_FILE_ENV = "HITL_SANDBOX_STATE"
"""Overrides where the state file lives (tests, or two sandboxes side by side)."""


class SandboxState(BaseModel):
    """What a client needs to reach a running sandbox. Holds secrets: the file is mode 0600."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    pid: int
    redis_url: str
    slack_api_url: str
    slack_bot_token: str
    api_url: str
    api_token: str


def state_path() -> Path:
    """$HITL_SANDBOX_STATE, else $XDG_RUNTIME_DIR/slack-hitl/sandbox.json, else
    ~/.cache/slack-hitl/sandbox.json."""
    override = os.environ.get(STATE_FILE_ENV)
    if override:
        return Path(override)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path.home() / ".cache"
    return base / "slack-hitl" / "sandbox.json"


@contextlib.contextmanager
def published(state: SandboxState, path: Path | None = None) -> Iterator[Path]:
    """Write `state` (mode 0600, created so, never readable by others) for as long as the block
    runs; remove it after, unless another sandbox has replaced it meanwhile."""
    where = path or state_path()
    where.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = where.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(state.model_dump_json())
    os.replace(temp, where)  # readers never see half a file
    try:
        yield where
    finally:
        current = _read(where)
        if current is not None and current.pid == state.pid:
            where.unlink(missing_ok=True)


def running_sandbox(path: Path | None = None) -> SandboxState | None:
    """The sandbox that wrote the state file, if its process is still alive."""
    state = _read(path or state_path())
    if state is None or not _alive(state.pid):
        return None
    return state


def _read(path: Path) -> SandboxState | None:
    try:
        return SandboxState.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True
