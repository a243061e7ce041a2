"""Stored human-tool calls read back through the human tools' models: the events keep their
Redis format, and a thread saved before the typed views existed still loads and renders."""

from __future__ import annotations

from pydantic import TypeAdapter

from agents.runtime.events import Event, ToolCall

STORED = [
    {
        "type": "tool_call",
        "at": "2026-01-05T09:00:00Z",
        "call_id": "c1",
        "intent": "request_approval",
        "arguments": {
            "action": {
                "intent": "deploy",
                "service": "api",
                "version": "1.4.2",
                "environment": "production",
            },
            "summary": "Deploy api 1.4.2 to production",
        },
        "source": "policy",
    },
    {
        "type": "tool_call",
        "at": "2026-01-05T09:00:00Z",
        "call_id": "c2",
        "intent": "request_input",
        "arguments": {"question": "Which version?", "options": ["1.4.2", "1.4.1"]},
    },
    {
        "type": "tool_call",
        "at": "2026-01-05T09:00:00Z",
        "call_id": "c3",
        "intent": "escalate",
        "arguments": {"reason": "3 errors in a row"},
        "source": "runtime",
    },
    {
        "type": "tool_call",
        "at": "2026-01-05T09:00:00Z",
        "call_id": "c4",
        "intent": "done_for_now",
        "arguments": {"message": "Deployed."},
    },
]


def load(raw: dict[str, object]) -> ToolCall:
    event = TypeAdapter(Event).validate_python(raw)
    assert isinstance(event, ToolCall)
    return event


def test_stored_human_calls_read_back_typed_and_serialize_unchanged() -> None:
    approval, asked, escalation, final = map(load, STORED)
    assert approval.approval.summary == "Deploy api 1.4.2 to production"
    assert approval.approval.action == approval.action == STORED[0]["arguments"]["action"]  # type: ignore[index]
    assert approval.action_intent == "deploy"
    assert (asked.input_request.question, asked.input_request.options) == (
        "Which version?",
        ["1.4.2", "1.4.1"],
    )
    # A stored escalation without urgency reads as the model's default.
    assert (escalation.escalation.reason, escalation.escalation.urgency) == (
        "3 errors in a row",
        "high",
    )
    assert final.final.message == "Deployed."
    for event, raw in zip((approval, asked, escalation, final), STORED, strict=True):
        assert event.model_dump(mode="json")["arguments"] == raw["arguments"]


def test_a_question_without_options_offers_none() -> None:
    asked = ToolCall(call_id="c1", intent="request_input", arguments={"question": "Why?"})
    assert asked.input_request.options == []


def test_a_stored_call_outside_todays_limits_still_reads_back() -> None:
    # Rendering never refuses a stored request, even if a limit tightened since it was made.
    long = "q" * 2000
    asked = ToolCall(
        call_id="c1", intent="request_input", arguments={"question": long, "options": [""] * 9}
    )
    assert (asked.input_request.question, asked.input_request.options) == (long, [""] * 9)
