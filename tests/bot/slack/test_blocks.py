"""The pure Block Kit renderers of bot/slack/blocks.py: which buttons a card offers and what
their values carry back, what a settled card says, what `overflow` adds and what `plain` keeps.
Slack's size limits and escaping are tests/bot/slack/test_limits.py's; nothing here repeats them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from agents.runtime.events import (
    APPROVAL,
    ESCALATION,
    INPUT,
    ApprovalDecision,
    Terms,
    ToolCall,
    call_hash,
)
from agents.runtime.thread import Outcome, Thread
from bot.slack import blocks, limits, messages
from bot.slack.payloads import RequestRef, request_ref
from tools.access import GrantAccess
from tools.deploy import Deploy, Rollback
from tools.types import Shown, ToolModel

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DEPLOY = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}


def terms(quorum: int = 1) -> Terms:
    return Terms(deciders=("U0BOB",), quorum=quorum, deadline=NOW + timedelta(hours=1))


def thread_with(*events: Any) -> Thread:
    return Thread(id="t1", agent="deploy", requester="U0ALICE", events=list(events))


def approval_call(*, quorum: int = 1) -> ToolCall:
    arguments = {"action": DEPLOY, "summary": "Deploy api 1.4.2 to production"}
    return ToolCall(call_id="c1", intent=APPROVAL, arguments=arguments, terms=terms(quorum))


def question_call(options: list[str] | None = None) -> ToolCall:
    arguments: dict[str, Any] = {"question": "Which version of api?"}
    if options is not None:
        arguments["options"] = options
    return ToolCall(call_id="c2", intent=INPUT, arguments=arguments, terms=terms())


def escalation_call() -> ToolCall:
    arguments = {"reason": "the deploy keeps failing", "urgency": "high"}
    return ToolCall(call_id="c3", intent=ESCALATION, arguments=arguments, terms=terms())


def buttons(rendered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in rendered if b["type"] == "actions" for e in b["elements"]]


def ref_of(button: dict[str, Any]) -> RequestRef:
    ref = request_ref(button["value"])
    assert ref is not None, button["value"]
    return ref


def context_text(rendered: list[dict[str, Any]]) -> str:
    return "\n".join(e["text"] for b in rendered if b["type"] == "context" for e in b["elements"])


# --- approval cards -----------------------------------------------------------------------------


def test_an_approval_offers_approve_edit_and_reject_bound_to_the_exact_call() -> None:
    call = approval_call()
    rendered = blocks.approval(thread_with(call), call)
    offered = buttons(rendered)
    assert [b["action_id"] for b in offered] == [
        blocks.APPROVE_ACTION,
        blocks.EDIT_ACTION,
        blocks.REJECT_ACTION,
    ]
    for button in offered:
        assert ref_of(button) == RequestRef(
            thread_id="t1", call_id="c1", action_hash=call_hash(DEPLOY)
        )
    approve, _, reject = offered
    assert approve["style"] == "primary" and "confirm" in approve
    assert reject["style"] == "danger" and "confirm" not in reject
    (actions,) = [b for b in rendered if b["type"] == "actions"]
    assert actions["block_id"] == "approval:c1"


def test_a_request_needing_two_approvals_has_no_edit_and_shows_the_votes() -> None:
    call = approval_call(quorum=2)
    vote = ApprovalDecision(call_id="c1", approved=True, user="U0BOB", action_hash="h")
    rendered = blocks.approval(thread_with(call, vote), call)
    assert [b["action_id"] for b in buttons(rendered)] == [
        blocks.APPROVE_ACTION,
        blocks.REJECT_ACTION,
    ]
    assert "Approved by <@U0BOB> (1 of 2)" in context_text(rendered)


def test_a_decided_card_has_no_buttons_and_says_who_decided_and_what_they_changed() -> None:
    call = approval_call()
    edit = DEPLOY | {"version": "1.4.3"}
    vote = ApprovalDecision(
        call_id="c1", approved=True, user="U0BOB", action_hash="h", edited_action=edit
    )
    rendered = blocks.decided(thread_with(call, vote), call, Outcome("approved", "U0BOB", NOW))
    assert buttons(rendered) == []
    said = context_text(rendered)
    assert "Approved by <@U0BOB>" in said
    assert "Edited by <@U0BOB>" in said and "1.4.2 → 1.4.3" in said

    rejected = blocks.decided(
        thread_with(call), call, Outcome("rejected", "U0CAROL", NOW, "freeze")
    )
    assert "Rejected by <@U0CAROL>" in context_text(rejected)
    assert "Edited" not in context_text(rejected)


# --- questions ----------------------------------------------------------------------------------


def test_a_question_with_options_has_one_button_per_answer_carrying_it() -> None:
    call = question_call(["1.4.2", "1.4.3"])
    rendered = blocks.question(thread_with(call), call, None)
    offered = buttons(rendered)
    assert [b["action_id"] for b in offered] == [
        f"{blocks.ANSWER_ACTION}:0",
        f"{blocks.ANSWER_ACTION}:1",
    ]
    assert [ref_of(b).answer for b in offered] == ["1.4.2", "1.4.3"]
    assert {ref_of(b).call_id for b in offered} == {"c2"}
    assert all(ref_of(b).action_hash == "" for b in offered)  # no gated call to bind to


def test_answer_buttons_wrap_into_rows_and_stop_at_four_rows() -> None:
    options = [f"v{i}" for i in range(blocks.MAX_ANSWER_BUTTONS + 3)]
    call = question_call(options)
    rendered = blocks.question(thread_with(call), call, None)
    rows = [b for b in rendered if b["type"] == "actions"]
    assert len(rows) == 4
    assert all(len(row["elements"]) <= limits.ACTIONS_ELEMENTS for row in rows)
    assert len({row["block_id"] for row in rows}) == 4  # block ids are unique in a message
    assert len(buttons(rendered)) == blocks.MAX_ANSWER_BUTTONS
    assert "3" in context_text(rendered)  # says how many answers are not buttons


def test_a_question_without_options_asks_for_a_reply_and_an_answered_one_says_who() -> None:
    call = question_call()
    open_card = blocks.question(thread_with(call), call, None)
    assert buttons(open_card) == []
    assert "Reply in this thread" in context_text(open_card)

    answered = blocks.question(
        thread_with(call), call, Outcome("answered", "U0ALICE", NOW, "1.4.2")
    )
    assert buttons(answered) == []
    assert "Answered by <@U0ALICE>" in context_text(answered)


def test_an_answer_too_long_for_a_button_value_is_cut_to_fit() -> None:
    long_answer = "é" * limits.BUTTON_VALUE
    call = question_call([long_answer])
    (button,) = buttons(blocks.question(thread_with(call), call, None))
    assert len(button["value"]) <= limits.BUTTON_VALUE
    answer = ref_of(button).answer
    assert answer is not None and 0 < len(answer) < len(long_answer)


# --- escalations --------------------------------------------------------------------------------


def test_an_escalation_offers_take_it_until_someone_takes_it() -> None:
    call = escalation_call()
    link = "https://example.slack.com/archives/C0DEPLOYS/p1"
    open_card = blocks.escalation(thread_with(call), call, link=link, taken_by=None, outcome=None)
    (take,) = buttons(open_card)
    assert take["action_id"] == blocks.TAKE_ACTION
    assert ref_of(take) == RequestRef(thread_id="t1", call_id="c3")
    assert link in context_text(open_card)

    taken = blocks.escalation(thread_with(call), call, link=link, taken_by="U0CAROL", outcome=None)
    assert buttons(taken) == [] and "Taken by <@U0CAROL>" in context_text(taken)

    expired = blocks.escalation(
        thread_with(call),
        call,
        link=link,
        taken_by="U0CAROL",
        outcome=Outcome("expired", None, NOW),
    )
    assert buttons(expired) == [] and "Expired" in context_text(expired)


# --- overflow and the plain fallback ------------------------------------------------------------


def test_nothing_overflows_from_cards_that_show_everything() -> None:
    assert blocks.overflow(approval_call()) == []
    assert blocks.overflow(question_call(["1.4.2", "1.4.3"])) == []
    assert blocks.overflow(question_call()) == []
    assert blocks.overflow(escalation_call()) == []


def test_answers_that_are_not_all_buttons_overflow_in_full() -> None:
    options = [f"v{i}" for i in range(blocks.MAX_ANSWER_BUTTONS + 1)]
    (follow_up,) = blocks.overflow(question_call(options))
    assert all(f"• {o}" in follow_up for o in options)


def test_the_plain_fallback_keeps_the_text_and_the_buttons_without_confirm_dialogs() -> None:
    call = approval_call()
    rendered = blocks.approval(thread_with(call), call)
    fallback = blocks.plain("Approval needed: Deploy api 1.4.2", rendered)
    section, actions = fallback
    assert section == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Approval needed: Deploy api 1.4.2"},
    }
    assert [e["action_id"] for e in actions["elements"]] == [
        b["action_id"] for b in buttons(rendered)
    ]
    assert all("confirm" not in e for e in actions["elements"])
    assert [e["value"] for e in actions["elements"]] == [b["value"] for b in buttons(rendered)]
    assert "confirm" in buttons(rendered)[0]  # the card itself is left as it was


def test_the_plain_fallback_of_a_message_without_blocks_is_its_text_cut_to_fit() -> None:
    (section,) = blocks.plain("x" * 5000, None)
    assert len(section["text"]["text"]) <= 2900


# --- the card states the call: code renders it from the arguments --------------------------------

HOSTILE = "<!channel> <!here> <!subteam^S1> <@U0X> <https://evil.example|x> & co"
GRANT = {
    "intent": "grant_access",
    "user": "U0DANA",
    "resource": "billing-db",
    "level": "read",
    "duration_hours": 36,
    "justification": HOSTILE,
}


def request_for(action: dict[str, Any], summary: str) -> ToolCall:
    arguments = {"action": action, "summary": summary}
    return ToolCall(call_id="c1", intent=APPROVAL, arguments=arguments, terms=terms())


def section_of(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    (section,) = [b for b in rendered if b["type"] == "section"]
    return section


def test_a_deploy_card_states_the_call_not_the_models_summary() -> None:
    call = request_for(DEPLOY, "Deploy docs to staging")
    rendered = blocks.approval(thread_with(call), call, Deploy)
    section = section_of(rendered)
    assert section["text"]["text"] == "*Deploy api 1.4.2 to production*"
    assert [f["text"] for f in section["fields"]] == [
        "*Service*\napi",
        "*Version*\n1.4.2",
        "*Environment*\nproduction",
    ]
    confirm = buttons(rendered)[0]["confirm"]["text"]["text"]
    assert confirm.startswith("Deploy api 1.4.2 to production.")
    assert "_Model's summary:_ Deploy docs to staging" in context_text(rendered)
    assert blocks.approval_text(call, Deploy) == "Approval needed: Deploy api 1.4.2 to production"


def test_the_models_summary_is_left_out_when_it_only_repeats_the_tools() -> None:
    call = request_for(DEPLOY, "Deploy api 1.4.2 to production")
    assert "Model's summary" not in context_text(blocks.approval(thread_with(call), call, Deploy))


def test_a_grant_shows_the_grantee_as_a_mention_a_readable_duration_and_escaped_words() -> None:
    call = request_for(GRANT, f"Grant {HOSTILE}")
    rendered = blocks.approval(thread_with(call), call, GrantAccess)
    section = section_of(rendered)
    assert section["text"]["text"] == "*Grant <@U0DANA> read access to billing-db for 36 hours*"
    assert [f["text"] for f in section["fields"]] == [
        "*Who*\n<@U0DANA>",
        "*Resource*\nbilling-db",
        "*Level*\nread",
        "*Duration*\n36 hours",
        "*Justification*\n" + limits.escape(HOSTILE),
    ]
    assert "<@U0DANA>" in buttons(rendered)[0]["confirm"]["text"]["text"]
    assert "_Model's summary:_ Grant " + limits.escape(HOSTILE) in context_text(rendered)
    two_days = request_for(GRANT | {"duration_hours": 48}, "x")
    fields = section_of(blocks.approval(thread_with(two_days), two_days, GrantAccess))["fields"]
    assert "*Duration*\n2 days" in [f["text"] for f in fields]


def test_only_the_tools_own_user_arguments_stay_live_mentions() -> None:
    summary = "Grant <@U0DANA> read, says <@U0X> <!channel>"
    assert messages.call_summary(summary, ["U0DANA"]) == (
        "Grant <@U0DANA> read, says &lt;@U0X&gt; &lt;!channel&gt;"
    )
    assert messages.call_summary(summary, ["U0DANA> <!here"]) == limits.escape(summary)
    field = Shown("Who", "<!channel>", user=True)  # not a user ID: shown as text
    assert messages.shown(field, 100) == "*Who*\n&lt;!channel&gt;"


def test_a_rollback_without_a_version_reads_the_previous_version() -> None:
    action = {"intent": "rollback", "service": "api", "environment": "production"}
    call = request_for(action | {"to_version": None, "reason": ""}, "x")
    section = section_of(blocks.approval(thread_with(call), call, Rollback))
    assert section["text"]["text"] == "*Roll back api in production to the previous version*"
    assert "*To version*\nthe previous version" in [f["text"] for f in section["fields"]]
    assert "*Reason*\nnot given" in [f["text"] for f in section["fields"]]
    assert "None" not in str(section)


def test_without_the_tools_model_the_card_is_generic_and_shows_the_arguments() -> None:
    call = request_for({"intent": "gone", "target": None, "force": True}, "Nothing to see")
    rendered = blocks.approval(thread_with(call), call)
    section = section_of(rendered)
    assert section["text"]["text"] == "*Run `gone` with the arguments below*"
    assert [f["text"] for f in section["fields"]] == ["*Target*\nnot given", "*Force*\nyes"]
    assert "_Model's summary:_ Nothing to see" in context_text(rendered)


def test_the_generic_fields_use_a_fields_title_as_its_label() -> None:
    class Restart(ToolModel):
        intent: Literal["restart"] = "restart"
        service: str
        grace_seconds: int = Field(title="Grace period (s)")
        note: str | None = None

    assert Restart(service="api", grace_seconds=30).fields() == [
        Shown("Service", "api"),
        Shown("Grace period (s)", "30"),
        Shown("Note", "not given"),
    ]


def test_the_reject_form_names_the_call_as_code_renders_it() -> None:
    call = request_for(GRANT, f"Nothing {HOSTILE}")
    modal = blocks.reject_modal(ref_for_call(call), call, GrantAccess)
    text = modal["blocks"][0]["text"]["text"]
    assert text == "*Grant <@U0DANA> read access to billing-db for 36 hours*"


def test_a_decided_card_keeps_stating_the_call() -> None:
    call = request_for(DEPLOY, "Deploy docs to staging")
    outcome = Outcome(kind="approved", by="U0BOB", at=NOW)
    rendered = blocks.decided(thread_with(call), call, outcome, Deploy)
    assert section_of(rendered)["text"]["text"] == "*Deploy api 1.4.2 to production*"
    assert "_Model's summary:_ Deploy docs to staging" in context_text(rendered)


def ref_for_call(call: ToolCall) -> RequestRef:
    return blocks.ref_for("t1", call)


def test_an_edit_from_no_value_reads_not_given_never_none() -> None:
    line = messages.edited("U0BOB", {"to_version": None}, {"to_version": "1.4.0"})
    assert "To version not given → 1.4.0" in line and "None" not in line


def test_a_refusal_names_who_can_decide_and_a_pending_request_who_can_settle_it() -> None:
    assert messages.refusal(
        "not_allowed", None, "", deciders=("U0BOB", "S0SRE"), kind="approval"
    ).endswith("<@U0BOB> or <!subteam^S0SRE> can approve it.")
    assert messages.refusal("own_benefit", None, "", deciders=()).endswith(
        "Anyone but the requester can decide it."
    )
    assert messages.pending(("U0BOB", "U0CAROL", "S0SRE"), "approval").startswith(
        "An approval is pending: <@U0BOB>, <@U0CAROL> or <!subteam^S0SRE> can approve it"
    )
    assert messages.pending(("U0ALICE",), "question") == (
        "A question is pending: <@U0ALICE> can answer it by replying in this thread."
    )
    assert "anyone on call can take it" in messages.pending((), "escalation")
