"""manifest.yml is a Slack app manifest asking for exactly what the bot uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# The Web API methods the bot calls, and the bot scope each one needs (None: no scope).
SCOPE_FOR_METHOD = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "usergroups.users.list": "usergroups:read",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "views.open": None,  # interactivity, no scope
    # Looking for a post that may have gone through before re-posting it (the outbox).
    "conversations.replies": "channels:history",
    "conversations.history": "channels:history",
}
SCOPE_FOR_EVENT = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


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
    needed = {SCOPE_FOR_EVENT[e] for e in events} | {
        s for s in SCOPE_FOR_METHOD.values() if s is not None
    }
    assert sorted(m["oauth_config"]["scopes"]["bot"]) == sorted(needed)
