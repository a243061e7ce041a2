"""The pure Block Kit renderers of bot/slack/blocks.py: which buttons a card offers and what
their values carry back, what a settled card says, what `overflow` adds and what `plain` keeps.
Slack's size limits and escaping are tests/bot/slack/test_limits.py's; nothing here repeats them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

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
from bot.slack import blocks, limits
from bot.slack.payloads import RequestRef, request_ref

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
