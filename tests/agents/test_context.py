"""What the model sees: a compact event trace, with resolved errors hidden."""

from __future__ import annotations

from agents.context import build_request, render_context
from agents.deploy import DEPLOY
from agents.events import ApprovalDecision, Error, ToolCall, ToolResult, UserMessage
from agents.thread import Thread

PROD = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}


def thread(*events: object) -> Thread:
    return Thread(id="t1", agent="deploy", requester="U0ALICE", events=list(events))  # type: ignore[arg-type]


def test_events_render_as_tags_with_yaml_bodies() -> None:
    text = render_context(
        thread(
            UserMessage(user="U0ALICE", text="deploy api 1.4.2 to production"),
            ToolCall(
                call_id="c1",
                intent="request_approval",
                arguments={"action": PROD, "summary": "Deploy api 1.4.2 to production"},
            ),
            ApprovalDecision(call_id="c1", approved=True, user="U0BOB", action_hash="h"),
        )
    )
    assert text == (
        "<user_message>\nfrom: U0ALICE\ntext: deploy api 1.4.2 to production\n</user_message>\n"
        "<request_approval>\naction:\n  intent: deploy\n  service: api\n  version: 1.4.2\n"
        "  environment: production\nsummary: Deploy api 1.4.2 to production\n</request_approval>\n"
        "<approval_decision>\napproved: true\nby: U0BOB\n</approval_decision>"
    )


def test_errors_resolved_by_a_later_result_are_hidden() -> None:
    text = render_context(
        thread(
            UserMessage(user="U0ALICE", text="go"),
            Error(message="invalid tool call: version"),
            ToolCall(call_id="c2", intent="deploy", arguments=PROD),
            ToolResult(call_id="c2", intent="deploy", output={"status": "succeeded"}),
            Error(message="still open"),
        )
    )
    assert "invalid tool call" not in text
    assert "<deploy_result>\nstatus: succeeded\n</deploy_result>" in text
    assert text.endswith("<error>\nmessage: still open\n</error>")


def test_the_request_carries_prompt_context_and_every_tool_schema() -> None:
    request = build_request(DEPLOY, thread(UserMessage(user="U0ALICE", text="hi")))
    assert request.system.startswith("You are the deploy agent")
    assert [t["name"] for t in request.tools] == [
        "deploy",
        "request_approval",
        "request_input",
        "escalate",
        "done_for_now",
    ]
    approval = request.tools[1]["parameters"]
    assert approval["properties"]["action"]["$ref"].endswith("/Deploy")
    assert "<user_message>" in request.context
