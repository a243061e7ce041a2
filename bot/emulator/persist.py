"""The emulated workspace on disk, so `hitl sandbox` survives a restart.

Channels, users, user groups, messages (blocks, reactions, metadata), ephemerals, modals,
`response_url` targets and the id counters go to one JSON file, written atomically (temp file,
then rename) at most every `interval` seconds and only when something changed, and once more on
stop. Recorded calls, violations and trigger ids are not kept: they describe one run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bot.emulator.state import Ephemeral, Message, Responder, User, View, Workspace

log = logging.getLogger(__name__)

FORMAT = 1
FILE_NAME = "emulator.json"


def snapshot(ws: Workspace) -> dict[str, Any]:
    """What survives a restart, as plain JSON values."""
    return {
        "format": FORMAT,
        "last_micros": ws.last_micros,
        "last_id": ws.last_id,
        "channels": ws.channels,
        "users": [asdict(u) for u in ws.users.values()],
        "usergroups": ws.usergroups,
        "messages": [asdict(m) for m in ws.messages],
        "ephemerals": [asdict(e) for e in ws.ephemerals],
        "views": [asdict(v) for v in ws.views],
        "responders": {k: asdict(r) for k, r in ws.responders.items()},
    }


def restore(ws: Workspace, data: dict[str, Any]) -> None:
    """Put a `snapshot` back into `ws` (replacing its defaults)."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown emulator state format {data.get('format')!r}")
    ws.last_micros = max(ws.last_micros, int(data["last_micros"]))
    ws.last_id = max(ws.last_id, int(data["last_id"]))
    ws.channels = dict(data["channels"])
    ws.users = {u["id"]: User(**u) for u in data["users"]}
    ws.usergroups = {k: list(v) for k, v in data["usergroups"].items()}
    ws.messages = [Message(**m) for m in data["messages"]]
    ws.ephemerals = [Ephemeral(**e) for e in data["ephemerals"]]
    ws.views = [View(**v) for v in data["views"]]
    ws.responders = {k: Responder(**r) for k, r in data["responders"].items()}


class StateFile:
    """Keeps `ws` in `directory/emulator.json`: `load()` once, then `run()` in a task."""

    def __init__(self, ws: Workspace, directory: Path, *, interval: float = 0.2) -> None:
        self.ws = ws
        self.path = directory / FILE_NAME
        self.interval = interval
        self._saved_version = -1

    def load(self) -> bool:
        """Restore the saved state, if any; an unreadable file is moved aside, not fatal."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            restore(self.ws, data)
        except FileNotFoundError:
            return False
        except (ValueError, KeyError, TypeError) as e:
            aside = self.path.with_suffix(".unreadable.json")
            log.warning("emulator state %s unreadable (%s); moved to %s", self.path, e, aside)
            os.replace(self.path, aside)
            return False
        self._saved_version = self.ws.version
        return True

    async def run(self) -> None:
        """Save whenever the workspace changed, at most every `interval` seconds."""
        while True:
            await asyncio.sleep(self.interval)
            await self.save()

    async def save(self) -> None:
        """Write now if anything changed since the last write."""
        version = self.ws.version
        if version == self._saved_version:
            return
        # Serialized here, on the loop, so no handler mutates the state mid-dump.
        text = json.dumps(snapshot(self.ws), separators=(",", ":"))
        await asyncio.to_thread(self._write, text)
        self._saved_version = version

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(
            f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
        )  # writers never share one
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    async def close(self, task: asyncio.Task[None] | None) -> None:
        """Stop the saving task and write what is left."""
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.save()
