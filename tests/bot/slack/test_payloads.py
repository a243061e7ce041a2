"""Which message events are a person's new message, and what they said. The event shapes are
Slack's (docs.slack.dev message subtypes; app_mention of a broadcast reply with files)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.payloads import (
    Click,
    MessageEvent,
    RequestRef,
    Submission,
    click,
    message_event,
    request_ref,
    submission,
)

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


# --- block_actions, button values and view_submission ------------------------------------------
# Shapes as Slack sends them (docs.slack.dev interaction payloads; bolt-python's test bodies).

USER = {"id": "U0BOB", "username": "bob", "name": "bob", "team_id": "T0SANDBOX"}
VALUE = RequestRef(thread_id="t1", call_id="c1", action_hash="abc").encode()
BUTTON = {
    "action_id": "hitl_approve",
    "block_id": "approval:c1",
    "text": {"type": "plain_text", "text": "Approve", "emoji": True},
    "value": VALUE,
    "style": "primary",
    "type": "button",
    "action_ts": "1700000002.000300",
}
BLOCK_ACTIONS: dict[str, Any] = {
    "type": "block_actions",
    "user": USER,
    "api_app_id": "A0HITLAPP",
    "token": "legacy-verification-token",
    "container": {
        "type": "message",
        "message_ts": "1700000001.000200",
        "channel_id": "C0DEPLOYS",
        "is_ephemeral": False,
        "thread_ts": ROOT,
    },
    "trigger_id": "1700000002.1234.abcdef",
    "team": {"id": "T0SANDBOX", "domain": "sandbox"},
    "channel": {"id": "C0DEPLOYS", "name": "deploys"},
    "message": {"type": "message", "ts": "1700000001.000200", "bot_id": "B0HITL", "text": "x"},
    "response_url": "https://hooks.slack.com/actions/T0SANDBOX/1/abc",
    "actions": [BUTTON],
}


def test_a_button_click_is_read_from_a_block_actions_payload() -> None:
    found = click(BLOCK_ACTIONS)
    assert found == Click(
        user="U0BOB",
        channel="C0DEPLOYS",
        message_ts="1700000001.000200",
        action_id="hitl_approve",
        value=VALUE,
        trigger_id="1700000002.1234.abcdef",
    )
    assert request_ref(found.value) == RequestRef(thread_id="t1", call_id="c1", action_hash="abc")


def test_a_click_on_an_ephemeral_message_takes_the_channel_from_the_container() -> None:
    body = {k: v for k, v in BLOCK_ACTIONS.items() if k not in ("channel", "message")}
    body["container"] = BLOCK_ACTIONS["container"] | {"is_ephemeral": True}
    found = click(body)
    assert found is not None
    assert (found.channel, found.message_ts) == ("C0DEPLOYS", "1700000001.000200")


def test_a_click_without_a_value_or_trigger_is_still_a_click() -> None:
    bare = {k: v for k, v in BUTTON.items() if k != "value"}
    found = click(
        {k: v for k, v in BLOCK_ACTIONS.items() if k != "trigger_id"} | {"actions": [bare]}
    )
    assert found is not None and found.value is None and found.trigger_id is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        BLOCK_ACTIONS | {"actions": []},
        {k: v for k, v in BLOCK_ACTIONS.items() if k != "actions"},
        {k: v for k, v in BLOCK_ACTIONS.items() if k != "user"},
        BLOCK_ACTIONS | {"user": "U0BOB"},
        BLOCK_ACTIONS | {"actions": [{"type": "button", "value": VALUE}]},
        # A click in a Home tab or modal: no channel anywhere.
        {k: v for k, v in BLOCK_ACTIONS.items() if k != "channel"}
        | {"container": {"type": "view", "view_id": "V0HOME"}},
        BLOCK_ACTIONS | {"actions": "hitl_approve"},
    ],
    ids=[
        "empty",
        "no_actions",
        "actions_missing",
        "user_missing",
        "user_not_object",
        "no_action_id",
        "view_container",
        "actions_not_list",
    ],
)
def test_a_malformed_block_actions_payload_is_none(body: dict[str, Any]) -> None:
    assert click(body) is None


def test_a_button_value_round_trips_and_junk_is_none() -> None:
    ref = RequestRef(thread_id="t1", call_id="c2", answer='1.4.2 "quoted" é')
    assert request_ref(ref.encode()) == ref
    assert "action_hash" not in ref.encode()  # defaults are left out: values stay short
    for junk in [None, "", "not json", "[]", '{"thread_id": "t1"}', '{"call_id": 1}']:
        assert request_ref(junk) is None, junk
    extra = '{"thread_id": "t1", "call_id": "c1", "admin": true}'
    assert request_ref(extra) is None  # an unknown field is a forged or stale value


def view_submission(values: dict[str, Any], **view: Any) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        "user": USER,
        "api_app_id": "A0HITLAPP",
        "token": "legacy-verification-token",
        "trigger_id": "1700000003.1234.abcdef",
        "view": {
            "id": "V0REJECT",
            "team_id": "T0SANDBOX",
            "type": "modal",
            "blocks": [],
            "private_metadata": VALUE,
            "callback_id": "hitl_reject_reason",
            "state": {"values": values},
            "hash": "1700000003.abc",
            "title": {"type": "plain_text", "text": "Reject"},
        }
        | view,
        "response_urls": [],
        "is_enterprise_install": False,
    }


def test_a_view_submission_gives_each_input_its_text_or_selected_value() -> None:
    body = view_submission(
        {
            "reason": {"reason": {"type": "plain_text_input", "value": "change freeze"}},
            "environment": {
                "environment": {
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "staging"},
                        "value": "staging",
                    },
                }
            },
            "version": {"version": {"type": "plain_text_input", "value": None}},
            "service": {"service": {"type": "static_select", "selected_option": None}},
        }
    )
    assert submission(body) == Submission(
        user="U0BOB",
        callback_id="hitl_reject_reason",
        private_metadata=VALUE,
        values={
            "reason": "change freeze",
            "environment": "staging",
            "version": None,
            "service": None,
        },
    )


def test_a_view_without_private_metadata_has_an_empty_one() -> None:
    body = view_submission({})
    del body["view"]["private_metadata"]
    found = submission(body)
    assert found is not None and found.private_metadata == "" and found.values == {}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {k: v for k, v in view_submission({}).items() if k != "view"},
        {k: v for k, v in view_submission({}).items() if k != "user"},
        view_submission({}, state={}),
        view_submission({}, callback_id=None),
        view_submission({"reason": "change freeze"}),
        view_submission({"reason": {"reason": {"type": "plain_text_input", "value": 5}}}),
    ],
    ids=[
        "empty",
        "no_view",
        "no_user",
        "no_values",
        "callback_id_null",
        "input_not_object",
        "value_not_text",
    ],
)
def test_a_malformed_view_submission_is_none(body: dict[str, Any]) -> None:
    assert submission(body) is None


def test_a_body_without_an_event_is_none() -> None:
    assert message_event({}) is None
    assert message_event({"event": None}) is None
    assert message_event({"event": {"type": "app_mention", "channel": "C0DEPLOYS"}}) is None
