"""The sandbox page's ⋯ menu offers exactly the message shortcuts manifest.yml declares."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.emulator.ui import MESSAGE_SHORTCUTS

MANIFEST = Path(__file__).parents[2] / "manifest.yml"


def test_menu_matches_the_manifest() -> None:
    declared = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["features"]["shortcuts"]
    assert [
        {"name": s["name"], "callback_id": s["callback_id"]}
        for s in declared
        if s["type"] == "message"
    ] == MESSAGE_SHORTCUTS
