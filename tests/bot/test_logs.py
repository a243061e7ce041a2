from __future__ import annotations

import json
import logging

from agents.runtime.worker import current_thread
from bot.logs import JsonFormatter, TextFormatter


def record(message: str, **extra: object) -> logging.LogRecord:
    rec = logging.makeLogRecord(
        {
            "name": "agents.runtime.handling",
            "levelno": 20,
            "levelname": "INFO",
            "msg": message,
            "args": (),
        }
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_the_thread_being_worked_on_and_extra_fields() -> None:
    token = current_thread.set("t123")
    try:
        line = json.loads(JsonFormatter().format(record("stepped", step="c3")))
    finally:
        current_thread.reset(token)
    assert line["thread_id"] == "t123" and line["step"] == "c3"
    assert (line["level"], line["logger"], line["message"]) == (
        "info",
        "agents.runtime.handling",
        "stepped",
    )
    assert "thread_id" not in json.loads(JsonFormatter().format(record("idle")))


def test_text_lines_name_the_thread_too() -> None:
    token = current_thread.set("t9")
    try:
        assert TextFormatter().format(record("hello")).endswith("hello [thread t9]")
    finally:
        current_thread.reset(token)
