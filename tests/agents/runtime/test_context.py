"""What the model sees: a compact event trace, with resolved errors hidden."""

from __future__ import annotations

from agents.deploy import AGENT as DEPLOY
from agents.runtime.context import approx_tokens, build_request, render_context
from agents.runtime.events import ApprovalDecision, Error, ToolCall, ToolResult, UserMessage
from agents.runtime.thread import Thread

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
        "list_versions",
        "rollback",
        "request_approval",
        "request_input",
        "escalate",
        "done_for_now",
    ]
    approval = request.tools[3]["parameters"]
    # The action is named by its tool; its arguments are in that tool's own schema.
    action = approval["properties"]["action"]
    assert action["properties"]["intent"]["enum"] == ["deploy", "list_versions", "rollback"]
    assert "$defs" not in approval
    assert "<user_message>" in request.context


def long_thread(turns: int) -> Thread:
    events: list[object] = [UserMessage(user="U0ALICE", text="deploy api to production")]
    for i in range(turns):
        events += [
            ToolCall(call_id=f"c{i}", intent="list_versions", arguments={"service": f"svc{i}"}),
            ToolResult(
                call_id=f"c{i}",
                intent="list_versions",
                output={"service": f"svc{i}", "versions": ["1.0.0"] * 20},
            ),
        ]
    return thread(*events)


def test_within_budget_nothing_is_summarised() -> None:
    t = long_thread(2)
    assert render_context(t, budget=10_000) == render_context(t)
    assert "<summary>" not in render_context(t)


def test_over_budget_older_events_are_summarised_by_code_and_the_newest_kept() -> None:
    t = long_thread(30)
    full = render_context(t)
    text = render_context(t, budget=600)
    assert approx_tokens(full) > 600 >= approx_tokens(text)
    assert text.startswith("<summary>\nshortened: ")
    # The newest events are there verbatim; the older ones as short lines, newest of them last.
    assert text.endswith(render_context(thread(t.events[-1])))
    summary = text.split("</summary>")[0]
    assert "not_shown:" in summary and "list_versions result" in summary
    assert "svc0" not in text and "svc29" in text


def test_the_latest_event_is_always_whole() -> None:
    huge = UserMessage(user="U0ALICE", text="x" * 4000)
    text = render_context(thread(UserMessage(user="U0ALICE", text="hi"), huge), budget=100)
    assert "x" * 4000 in text and "U0ALICE said: hi" in text
