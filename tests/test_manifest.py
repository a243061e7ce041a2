"""manifest.yml is a Slack app manifest asking for exactly what the bot uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.slack import commands
from tests.support import SCOPE_FOR_EVENT, SCOPE_FOR_FEATURE, SCOPE_FOR_METHOD


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(
        (Path(__file__).parent.parent / "manifest.yml").read_text()
    )
    return loaded


def test_manifest_has_the_sections_slack_requires() -> None:
    m = manifest()
    assert m["display_information"]["name"] == "slack-hitl"
    assert 174 <= len(m["display_information"]["long_description"]) <= 4000
    assert m["features"]["bot_user"]["display_name"]
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True


def test_scopes_are_exactly_those_of_the_events_and_methods_used() -> None:
    m = manifest()
    events = m["settings"]["event_subscriptions"]["bot_events"]
    assert sorted(events) == sorted(SCOPE_FOR_EVENT)
    features = [f for f in SCOPE_FOR_FEATURE if m["features"].get(f)]
    needed = {SCOPE_FOR_EVENT[e] for e in events if SCOPE_FOR_EVENT[e] is not None} | {
        s for s in SCOPE_FOR_METHOD.values() if s is not None
    }
    needed |= {SCOPE_FOR_FEATURE[f] for f in features}
    # The bot posts in DMs too, and looks for a lost DM post (conversations.history) before
    # posting it again: in a DM that reads with im:history, not channels:history.
    needed |= {"im:history"} if "im:write" in needed else set()
    assert sorted(m["oauth_config"]["scopes"]["bot"]) == sorted(needed)


def test_hitl_and_the_shortcut_are_declared_as_the_app_registers_them() -> None:
    features = manifest()["features"]
    (slash,) = features["slash_commands"]
    assert slash["command"] == commands.COMMAND
    assert slash["description"] and slash["usage_hint"] and slash["should_escape"] is False
    (shortcut,) = features["shortcuts"]
    assert shortcut == shortcut | {"type": "message", "callback_id": commands.SHORTCUT}
    assert shortcut["name"] and shortcut["description"]
    assert "commands" in manifest()["oauth_config"]["scopes"]["bot"]


def test_the_home_tab_and_direct_messages_are_enabled() -> None:
    m = manifest()
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert m["features"]["app_home"]["messages_tab_enabled"] is True
    assert "app_home_opened" in m["settings"]["event_subscriptions"]["bot_events"]
    assert "im:write" in m["oauth_config"]["scopes"]["bot"]
