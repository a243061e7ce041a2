"""Logging set-up: JSON lines for servers and workers (one object per line, with the id of the
thread being worked on), plain text for a person at a terminal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Literal

from agents.runtime.worker import current_thread

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        thread_id = current_thread.get()
        if thread_id is not None:
            line["thread_id"] = thread_id
        line |= {k: v for k, v in vars(record).items() if k not in _STANDARD and k != "message"}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        thread_id = current_thread.get()
        text = super().format(record)
        return f"{text} [thread {thread_id}]" if thread_id else text


def configure(style: Literal["json", "text"], *, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if style == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Request lines from the HTTP clients are noise at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # So are the MCP SDK's lines per stateless /mcp call ("Terminating session: None") and
    # its session manager's start and stop.
    logging.getLogger("mcp.server").setLevel(logging.WARNING)
