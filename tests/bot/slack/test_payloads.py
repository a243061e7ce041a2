"""Which message events are a person's new message, and what they said. The event shapes are
Slack's (docs.slack.dev message subtypes; app_mention of a broadcast reply with files)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.payloads import MessageEvent, message_event

ROOT = "1700000000.000100"
BASE: dict[str, Any] = {
    "type": "message",
    "channel": "C0DEPLOYS",
    "ts": "1700000001.000200",
    "thread_ts": ROOT,
    "channel_type": "channel",
    "event_ts": "1700000001.000200",
}
FILE = {"id": "F0SHOT", "name": "error.png", "title": "error", "mimetype": "image/png"}


def parsed(event: dict[str, Any]) -> MessageEvent:
    found = message_event({"event": event})
    assert found is not None
    return found


@pytest.mark.parametrize(
    "event",
    [
        BASE | {"user": "U0ALICE", "text": "1.4.2"},
        BASE
        | {
            "subtype": "thread_broadcast",
            "user": "U0ALICE",
            "text": "1.4.2",
            "root": {"type": "message", "user": "U0ALICE", "text": "deploy", "ts": ROOT},
            "client_msg_id": "c1",
        },
        BASE
        | {"subtype": "file_share", "user": "U0ALICE", "text": "1.4.2", "files": [FILE]}
        | {"upload": False, "display_as_bot": False},
        # An app_mention of a broadcast reply carries the subtype too.
        BASE
        | {"type": "app_mention", "subtype": "thread_broadcast", "user": "U0ALICE"}
        | {"text": "<@U0BOT> 1.4.2", "files": [FILE]},
    ],
    ids=["plain", "thread_broadcast", "file_share", "app_mention_broadcast"],
)
def test_a_persons_new_message_counts_whatever_its_subtype(event: dict[str, Any]) -> None:
    message = parsed(event)
    assert message.from_person
    assert "1.4.2" in message.said
    assert message.origin.thread_ts == ROOT


@pytest.mark.parametrize(
    "event",
    [
        BASE | {"subtype": "message_changed", "message": {"text": "1.4.2", "user": "U0ALICE"}},
        BASE | {"subtype": "message_deleted", "previous_message": {"text": "1.4.2"}},
        BASE | {"subtype": "bot_message", "bot_id": "B0OTHER", "text": "1.4.2"},
        BASE | {"user": "U0ALICE", "bot_id": "B0OTHER", "text": "1.4.2"},
        BASE | {"subtype": "thread_broadcast", "user": "U0BOT", "bot_id": "B0HITL", "text": "x"},
        BASE | {"subtype": "channel_join", "user": "U0ALICE", "text": "<@U0ALICE> joined"},
        BASE | {"subtype": "me_message", "user": "U0ALICE", "text": "waves"},
        BASE | {"user": "U0ALICE", "text": "<@U0BOT> 1.4.2", "edited": {"user": "U0ALICE"}},
        BASE | {"user": "U0ALICE", "text": "1.4.2", "hidden": True},
    ],
    ids=[
        "edit",
        "deletion",
        "bot_message",
        "bot_id",
        "bot_broadcast",
        "channel_join",
        "me_message",
        "edited_mention",
        "hidden",
    ],
)
def test_edits_deletions_bots_and_slacks_own_messages_do_not_count(
    event: dict[str, Any],
) -> None:
    assert not parsed(event).from_person


def test_a_file_without_text_says_which_files_were_shared() -> None:
    unnamed = {"id": "F0CONNECT", "mode": "file_access", "file_access": "check_file_info"}
    one = parsed(BASE | {"subtype": "file_share", "user": "U0ALICE", "text": "", "files": [FILE]})
    two = parsed(BASE | {"subtype": "file_share", "user": "U0ALICE", "files": [FILE, unnamed]})
    assert one.from_person and one.said == "(shared file: error.png)"
    assert two.from_person and two.said == "(shared files: error.png, unnamed)"


def test_text_is_taken_as_written_when_there_is_some() -> None:
    event = parsed(BASE | {"subtype": "file_share", "user": "U0ALICE", "text": " 2 days"})
    assert event.said == " 2 days"
    assert parsed(BASE | {"user": "U0ALICE", "text": None}).said == ""


def test_mentions_are_found_in_the_text() -> None:
    event = parsed(BASE | {"subtype": "thread_broadcast", "user": "U0ALICE", "text": "<@U0BOT> hi"})
    assert event.mentions("U0BOT") and not event.mentions("U0OTHER") and not event.mentions(None)


def test_a_malformed_event_is_none() -> None:
    assert message_event({"event": {"type": "message", "text": "no channel"}}) is None
    assert message_event({"event": BASE | {"user": "U0ALICE", "files": "not a list"}}) is None
