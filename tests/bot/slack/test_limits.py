"""Slack's limits and mrkdwn escaping: the helpers in bot/slack/limits.py, every renderer
of bot/slack/blocks.py and bot/slack/messages.py fed oversize and hostile text, each payload
checked by the emulator's own checks (what Slack refuses), and the emulator refusing it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agents.runtime.events import ApprovalDecision, HumanResponse, Terms, ToolCall
from agents.runtime.thread import Outcome, Thread
from bot.emulator import checks
from bot.emulator.checks import message_problems, view_problems
from bot.emulator.server import SlackEmulator
from bot.slack import blocks, limits, messages
from bot.slack.limits import chunks, cut, escape
from bot.slack.payloads import RequestRef
from tools.deploy import Deploy

HOSTILE = "<!channel> <!here> <!subteam^S0EVIL> <@U0X> <https://evil.example|click> & co "
TRACE = "Traceback (most recent call last):\n" + '  File "app.py", line 1, in <module>\n' * 100
LONG_SUMMARY = (HOSTILE * 10)[:600]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TERMS = Terms(deciders=("U0BOB", "S0OPS"), deadline=NOW + timedelta(hours=1))
REF = RequestRef(thread_id="t1", call_id="c1", action_hash="h")


# Helpers


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn_texts(node: Any) -> Iterator[str]:
    """Every mrkdwn text in a payload (plain_text is never parsed for mentions)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def assert_escaped(text: str) -> None:
    for raw in ("<!channel>", "<!here>", "<!subteam^S0EVIL>", "<@U0X>", "<https://evil"):
        assert raw not in text, text
    assert "& co" not in text


def assert_message_ok(rendered: list[dict[str, Any]], *, text: str = "fallback") -> None:
    assert message_problems(text, rendered) == []
    for shown in mrkdwn_texts(rendered):
        assert_escaped(shown)


def thread_with(*events: Any) -> Thread:
    return Thread(id="t1", agent="deploy", requester="U0ALICE", events=list(events))


def approval_call(summary: str = LONG_SUMMARY, **action: Any) -> ToolCall:
    action = {"intent": "deploy", "service": HOSTILE, "version": "1.4.2"} | action
    return ToolCall(
        call_id="c1",
        intent="request_approval",
        arguments={"action": action, "summary": summary},
        terms=TERMS,
    )


def question_call(question: str, options: list[str]) -> ToolCall:
    arguments = {"question": question, "options": options}
    return ToolCall(call_id="c1", intent="request_input", arguments=arguments, terms=TERMS)


def escalation_call(reason: str) -> ToolCall:
    arguments = {"reason": reason, "urgency": "high"}
    return ToolCall(call_id="c1", intent="escalate", arguments=arguments, terms=TERMS)


# bot/slack/limits.py


def test_escape_makes_mentions_links_and_entities_literal() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert unescape(escape(HOSTILE)) == HOSTILE
    assert escape("plain *bold* _it_") == "plain *bold* _it_"


def test_cut_keeps_short_text_and_marks_a_cut() -> None:
    assert cut("short", 10) == "short"
    assert cut("x" * 10, 10) == "x" * 10
    shown = cut("word " * 100, 50)
    assert len(shown) <= 50 and shown.endswith("…") and shown.startswith("word word")


@pytest.mark.parametrize("limit", range(1, 40))
def test_cut_never_splits_a_token(limit: int) -> None:
    text = "hi <@U0ALICE> &amp; <!date^1700000000^{date}|Nov 14> done &lt;x&gt;"
    shown = cut(text, limit)
    assert len(shown) <= limit and shown.endswith("…")
    kept = shown.removesuffix("…")
    assert text.startswith(kept)
    # No half token: every "<" is closed and every "&" starts a whole entity.
    assert kept.count("<") == kept.count(">")
    for i, char in enumerate(kept):
        if char == "&":
            assert kept[i:].split(";")[0] in ("&amp", "&lt", "&gt")


def test_chunks_keep_all_the_text_and_split_at_line_breaks() -> None:
    pieces = chunks(TRACE, 500)
    assert "".join(pieces) == TRACE
    assert all(len(p) <= 500 for p in pieces) and len(pieces) > 1
    assert all(p.endswith("\n") for p in pieces[:-1])
    assert chunks("short", 10) == ["short"] and chunks("", 10) == [""]


def test_chunks_split_a_long_line_without_breaking_entities() -> None:
    text = escape("&<>" * 1000)
    pieces = chunks(text, 100)
    assert "".join(pieces) == text and all(len(p) <= 100 for p in pieces)
    assert all(p.startswith("&") and p.endswith(";") for p in pieces)


SLACKISH = st.text(
    alphabet=st.sampled_from(list("ab <>&;@!|^\n")) | st.characters(exclude_categories=("Cs",)),
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(text=SLACKISH, limit=st.integers(min_value=1, max_value=120))
def test_cut_and_chunks_hold_for_any_text(text: str, limit: int) -> None:
    assert len(cut(text, limit)) <= limit
    assert cut(escape(text), limit).removesuffix("…") in escape(text)
    pieces = chunks(escape(text), limit)
    assert "".join(pieces) == escape(text) and all(len(p) <= limit for p in pieces)


@settings(max_examples=50, deadline=None)
@given(summary=SLACKISH.map(lambda t: t * 10), option=SLACKISH)
def test_any_summary_or_option_renders_within_limits(summary: str, option: str) -> None:
    call = approval_call(summary=summary, notes=summary)
    assert message_problems("x", blocks.approval(thread_with(call), call)) == []
    asked = question_call(summary, [option] * 3)
    assert message_problems("x", blocks.question(thread_with(asked), asked, None)) == []
    escalated = escalation_call(option)
    link = "https://example.slack.com/archives/C1/p1"
    rendered = blocks.escalation(
        thread_with(escalated), escalated, link=link, taken_by=None, outcome=None
    )
    assert message_problems("x", rendered) == []
    assert view_problems(blocks.reject_modal(REF, call)) == []


def test_emulator_knows_the_same_limits() -> None:
    assert checks.MAX_MESSAGE_TEXT == limits.MESSAGE_TEXT
    assert checks.MAX_FIELD_TEXT == limits.SECTION_FIELD
    assert checks.MAX_TEXT_OBJECT == limits.CONTEXT_TEXT
    assert checks.MAX_OPTION_TEXT == limits.OPTION_TEXT
    assert checks.MAX_OPTION_VALUE == limits.OPTION_VALUE
    assert checks.MAX_INPUT_VALUE == limits.PLAIN_TEXT_INPUT_VALUE


# bot/slack/blocks.py


def test_approval_with_a_long_hostile_summary_fits_and_is_escaped() -> None:
    # The confirm dialog states the call as its tool renders it, here long and hostile (an
    # argument read back unvalidated); the model's summary is shown whole, labelled.
    call = approval_call(service=HOSTILE * 10, environment="production")
    rendered = blocks.approval(thread_with(call), call, Deploy)
    assert_message_ok(rendered)
    (button,) = [e for e in rendered[-1]["elements"] if e["action_id"] == blocks.APPROVE_ACTION]
    confirm = button["confirm"]["text"]["text"]
    assert len(confirm) <= limits.CONFIRM_TEXT and "…" in confirm
    assert_escaped(confirm)
    assert unescape(rendered[2]["elements"][0]["text"]) == f"_Model's summary:_ {LONG_SUMMARY}"
    assert blocks.overflow(call) == []


def test_approval_with_huge_and_many_arguments_fits() -> None:
    extra = {f"arg_{i}": TRACE for i in range(12)}
    call = approval_call(summary=TRACE * 2, **extra)
    votes = [ApprovalDecision(call_id="c1", approved=True, user="U0BOB", action_hash="h", at=NOW)]
    rendered = blocks.approval(thread_with(call, *votes), call)
    assert_message_ok(rendered)
    section = rendered[1]
    assert len(section["fields"]) == limits.SECTION_FIELDS
    assert rendered[2]["elements"][0]["text"].endswith("…")  # the model's summary, cut
    assert "5 more" in section["fields"][-1]["text"]


def test_overflow_carries_everything_the_card_cut() -> None:
    extra = {f"arg_{i}": f"value {i}" for i in range(12)}
    summary = HOSTILE + TRACE * 2
    call = approval_call(summary=summary, notes=TRACE, **extra)
    follow_ups = blocks.overflow(call)
    assert all(len(text) <= limits.FOLLOW_UP_TEXT for text in follow_ups)
    for text in follow_ups:
        assert_escaped(text)
    summaries = [t for t in follow_ups if t.startswith("Full summary (")]
    assert summaries[0].startswith(f"Full summary (1/{len(summaries)}):\n")
    assert unescape("".join(t.split("\n", 1)[1] for t in summaries)) == summary
    notes = [t for t in follow_ups if t.startswith("Full notes (")]
    assert unescape("".join(t.split("\n", 1)[1] for t in notes)) == TRACE
    # The arguments past the tenth field are carried too; those shown whole are not.
    assert any(t.startswith("Full arg 11 (1/1):\nvalue 11") for t in follow_ups)
    assert not any(t.startswith("Full version") for t in follow_ups)


def test_decided_with_a_long_reason_and_a_huge_edit_fits() -> None:
    call = approval_call()
    edited = call.action | {"version": TRACE}
    approve = ApprovalDecision(
        call_id="c1",
        approved=True,
        user="U0BOB",
        action_hash="h",
        edited_action=edited,
        at=NOW,
    )
    thread = thread_with(call, approve)
    approved = Outcome(kind="approved", by="U0BOB", at=NOW)
    assert_message_ok(blocks.decided(thread, call, approved))
    rejected = Outcome(kind="rejected", by="U0BOB", at=NOW, reason=HOSTILE + "x" * 5000)
    rendered = blocks.decided(thread_with(call), call, rejected)
    assert_message_ok(rendered)
    assert "<@U0BOB>" in rendered[-1]["elements"][0]["text"]  # our own mention stays live


def test_question_with_30_long_options_and_a_long_question_fits() -> None:
    options = [f"{HOSTILE} option {i} " + "y" * 120 for i in range(30)]
    call = question_call(HOSTILE + "q" * 5000, options)
    rendered = blocks.question(thread_with(call), call, None)
    assert_message_ok(rendered, text=messages.question(call.arguments["question"]))
    buttons = [e for b in rendered if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == 30
    assert all(len(b["text"]["text"]) <= limits.BUTTON_TEXT for b in buttons)
    assert buttons[0]["text"]["text"].endswith("…")
    assert RequestRef.model_validate_json(buttons[7]["value"]).answer == options[7]
    assert len(messages.question(call.arguments["question"])) <= limits.SECTION_TEXT
    names = [t.split(" (")[0] for t in blocks.overflow(call)]
    assert set(names) == {"Full question", "Full answers"}


def test_question_with_too_many_or_huge_options_still_fits() -> None:
    call = question_call("which?", [f"option {i}" for i in range(130)] + ["z" * 5000])
    rendered = blocks.question(thread_with(call), call, None)
    assert_message_ok(rendered)
    buttons = [e for b in rendered if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == blocks.MAX_ANSWER_BUTTONS
    assert "31 more answers" in str(rendered[-1])
    huge = question_call("which?", ["z" * 5000])
    (button,) = blocks.question(thread_with(huge), huge, None)[1]["elements"]
    assert len(button["value"]) <= limits.BUTTON_VALUE
    assert RequestRef.model_validate_json(button["value"]).answer.endswith("…")  # type: ignore[union-attr]


def test_a_5k_answer_shown_back_in_the_card_fits() -> None:
    call = question_call("why?", [])
    answer = HOSTILE + "a" * 5000
    reply = HumanResponse(call_id="c1", user="U0ALICE", text=answer, at=NOW)
    outcome = Outcome(kind="answered", by="U0ALICE", at=NOW, reason=answer)
    rendered = blocks.question(thread_with(call, reply), call, outcome)
    assert_message_ok(rendered)
    assert rendered[-1]["elements"][0]["text"].endswith("…")


def test_escalation_with_a_pasted_stack_trace_fits() -> None:
    reason = HOSTILE + TRACE[:3500]
    call = escalation_call(reason)
    thread = thread_with(call)
    link = "https://example.slack.com/archives/C1/p1"
    for taken_by, outcome in [
        (None, None),
        ("U0CAROL", None),
        (None, Outcome(kind="cancelled", by="api:ci <!channel>", at=NOW, reason=HOSTILE)),
    ]:
        rendered = blocks.escalation(thread, call, link=link, taken_by=taken_by, outcome=outcome)
        assert_message_ok(rendered)
        assert f"<{link}|Open the thread>" in str(rendered)
    follow_ups = blocks.overflow(call)
    assert follow_ups and all(len(t) <= limits.FOLLOW_UP_TEXT for t in follow_ups)
    assert unescape("".join(t.split("\n", 1)[1] for t in follow_ups)) == reason


def test_modals_fit_with_hostile_and_huge_values() -> None:
    reject = blocks.reject_modal(
        REF, approval_call(LONG_SUMMARY * 10, service=HOSTILE * 100, environment="x"), Deploy
    )
    assert view_problems(reject) == []
    for shown in mrkdwn_texts(reject):
        assert_escaped(shown)
    schema = {
        "properties": {
            "service": {"type": "string", "description": "d" * 3000},
            "version": {"type": "string"},
            "environment": {"enum": [f"env {i} " + "e" * 100 for i in range(5)]},
            "huge_enum": {"enum": ["x" * 200]},
        }
    }
    call = approval_call(version=TRACE * 2, environment="env 1 " + "e" * 100, huge_enum="x")
    edit = blocks.edit_modal(REF, call, schema)
    assert view_problems(edit) == []
    # A value that cannot be shown whole is left out, not submitted cut.
    assert [b["block_id"] for b in edit["blocks"]] == ["service", "environment"]


# bot/slack/messages.py


def test_every_message_text_is_escaped_and_fits() -> None:
    huge = HOSTILE + "x" * 50_000
    outcome = Outcome(kind="rejected", by="U0BOB", at=NOW, reason=huge)
    texts = [
        messages.approval_fallback(messages.call_summary(huge, [])),
        messages.model_summary(huge, limits.MESSAGE_TEXT),
        messages.question(huge),
        messages.escalated_in_thread(huge),
        messages.control("stopped", "cli:ops <!here>", huge),
        messages.launched("api:ci", huge),
        messages.invalid_edit(huge),
        messages.refusal_settled(outcome),
        messages.edited("U0BOB", {"a": "1"}, {"a": huge}),
    ]
    for text in texts:
        assert message_problems(text, None) == []
        assert len(text) <= limits.MESSAGE_TEXT and text.endswith("…")
        assert_escaped(text)


def test_final_chunks_split_a_long_final_message() -> None:
    assert messages.final_chunks("Done <!channel> & deployed") == [
        "Done &lt;!channel&gt; &amp; deployed"
    ]
    final = HOSTILE + TRACE * 5
    pieces = messages.final_chunks(final)
    assert len(pieces) > 1 and all(len(p) <= limits.FOLLOW_UP_TEXT for p in pieces)
    assert unescape("".join(pieces)) == final
    for piece in pieces:
        assert_escaped(piece)


# The emulator refuses what Slack refuses.


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret="secret", bot_token="xoxb-sandbox")
    await emu.start()
    yield emu
    await emu.stop()


def _section_with_long_field() -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}


def _long_context() -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c" * 3001}]}


def _select(text: str, value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": text}, "value": value}
    return {"type": "actions", "elements": [{"type": "static_select", "options": [option]}]}


@pytest.mark.parametrize(
    ("text", "block", "error"),
    [
        ("t" * 40_001, None, "msg_too_long"),
        ("ok", _section_with_long_field(), "invalid_blocks"),
        ("ok", _long_context(), "invalid_blocks"),
        ("ok", _select("o" * 76, "v"), "invalid_blocks"),
        ("ok", _select("o", "v" * 151), "invalid_blocks"),
    ],
)
async def test_emulator_refuses_messages_beyond_slack_limits(
    emulator: SlackEmulator, text: str, block: dict[str, Any] | None, error: str
) -> None:
    client = AsyncWebClient(token="xoxb-sandbox", base_url=emulator.api_url)
    with pytest.raises(SlackApiError) as refused:
        await client.chat_postMessage(
            channel="C0GENERAL", text=text, blocks=[block] if block else None
        )
    assert refused.value.response["error"] == error
    assert [v.error for v in emulator.violations] == [error]


def test_emulator_refuses_a_modal_with_a_huge_initial_value() -> None:
    element = {"type": "plain_text_input", "action_id": "v", "initial_value": "v" * 3001}
    label = {"type": "plain_text", "text": "Version"}
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Edit"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [{"type": "input", "label": label, "element": element}],
    }
    (problem,) = view_problems(view)
    assert "initial_value" in problem and "/view/blocks/0/element/initial_value" in problem
