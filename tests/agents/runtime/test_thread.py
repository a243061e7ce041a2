"""What a thread derives from its events (factor 5): status, the request it waits on, how each
request ended, the error streak. Pure functions of the event list: no Redis, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.runtime.events import (
    APPROVAL,
    ESCALATION,
    FINAL,
    INPUT,
    ApprovalDecision,
    Error,
    EscalationTaken,
    Event,
    HumanResponse,
    Paused,
    ReminderSent,
    RequestExpired,
    Resumed,
    Stopped,
    Terms,
    ToolCall,
    ToolResult,
    UserMessage,
)
from agents.runtime.thread import Status, Thread, is_note

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEPLOY = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}


def thread(*events: Event) -> Thread:
    return Thread(id="t1", agent="deploy", requester="U0ALICE", events=list(events))


def asked(text: str = "deploy api 1.4.2 to production") -> UserMessage:
    return UserMessage(user="U0ALICE", text=text, message_ts="1.0")


def call(intent: str, call_id: str = "c1", *, quorum: int = 1, **arguments: Any) -> ToolCall:
    terms = Terms(quorum=quorum, deadline=T0 + timedelta(hours=1))
    human = intent in (APPROVAL, INPUT, ESCALATION)
    return ToolCall(
        call_id=call_id, intent=intent, arguments=arguments, terms=terms if human else None
    )


def approval(call_id: str = "c1", *, quorum: int = 1) -> ToolCall:
    return call(APPROVAL, call_id, quorum=quorum, action=DEPLOY, summary="Deploy api")


def decision(
    user: str, *, approved: bool = True, call_id: str = "c1", **more: Any
) -> ApprovalDecision:
    return ApprovalDecision(call_id=call_id, approved=approved, user=user, action_hash="h", **more)


def step_error(message: str = "junk output") -> Error:
    return Error(message=message)


def delivery_error() -> Error:
    return Error(message="chat.postMessage refused: invalid_blocks", scope="delivery")


# --- status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([], Status.RUNNING),
        ([asked()], Status.RUNNING),
        ([asked(), approval()], Status.WAITING_APPROVAL),
        ([asked(), call(INPUT, question="Which version?")], Status.WAITING_INPUT),
        ([asked(), call(ESCALATION, reason="stuck")], Status.WAITING_ESCALATION),
        ([asked(), approval(), decision("U0BOB")], Status.RUNNING),
        ([asked(), call(FINAL, message="Deployed")], Status.DONE),
        ([asked(), Paused(by="U0BOB")], Status.PAUSED),
        ([asked(), Paused(by="U0BOB"), Resumed(by="U0BOB")], Status.RUNNING),
        ([asked(), approval(), Paused(by="U0BOB"), Resumed(by="U0BOB")], Status.WAITING_APPROVAL),
        ([asked(), approval(), Stopped(by="U0BOB")], Status.STOPPED),
        ([asked(), Stopped(by="U0BOB"), Resumed(by="U0BOB")], Status.RUNNING),
        ([asked(), call(FINAL, message="Deployed"), Paused(by="U0BOB")], Status.PAUSED),
    ],
    ids=[
        "empty",
        "asked",
        "approval",
        "input",
        "escalation",
        "approved",
        "done",
        "paused",
        "resumed",
        "resumed-still-waiting",
        "stopped",
        "stop-then-resume",
        "paused-after-done",
    ],
)
def test_status_is_derived_from_the_events(events: list[Event], status: Status) -> None:
    assert thread(*events).status is status


def test_a_note_after_the_final_answer_leaves_the_thread_done() -> None:
    done = thread(asked(), call(FINAL, message="Deployed"), delivery_error())
    assert done.status is Status.DONE
    assert isinstance(done.last_step, ToolCall) and done.last_step.intent == FINAL


def test_a_request_that_ended_in_any_way_no_longer_holds_the_thread() -> None:
    endings: list[Event] = [
        decision("U0BOB"),
        decision("U0BOB", approved=False, reason="freeze"),
        RequestExpired(call_id="c1"),
        HumanResponse(call_id="c1", user="U0ALICE", text="1.4.2"),
    ]
    for ending in endings:
        assert thread(asked(), approval(), ending).status is Status.RUNNING, ending


def test_events_about_another_request_do_not_end_the_open_one() -> None:
    waiting = thread(asked(), approval("c2"), decision("U0BOB", call_id="c1"))
    assert waiting.status is Status.WAITING_APPROVAL
    assert waiting.open_request() == waiting.events[1]


# --- notes and the last step ---------------------------------------------------------------------


def test_notes_are_pauses_resumes_and_delivery_errors_only() -> None:
    assert is_note(Paused(by="U0BOB")) and is_note(Resumed(by="U0BOB"))
    assert is_note(delivery_error())
    assert not is_note(step_error())
    assert not is_note(Stopped(by="U0BOB"))
    assert not is_note(ReminderSent(call_id="c1"))


def test_the_last_step_looks_past_notes() -> None:
    request = approval()
    t = thread(asked(), request, Paused(by="U0BOB"), delivery_error(), Resumed(by="U0BOB"))
    assert t.last_step == request
    assert thread().last_step is None
    assert thread(Paused(by="U0BOB")).last_step is None


# --- how a request ended ----------------------------------------------------------------------


def test_each_way_a_request_ends_has_its_outcome() -> None:
    request = approval()
    cases: list[tuple[Event, str, str | None, str | None]] = [
        (decision("U0BOB"), "approved", "U0BOB", None),
        (decision("U0BOB", approved=False, reason="freeze"), "rejected", "U0BOB", "freeze"),
        (HumanResponse(call_id="c1", user="U0ALICE", text="1.4.2"), "answered", "U0ALICE", "1.4.2"),
        (RequestExpired(call_id="c1", at=T0), "expired", None, None),
        (Stopped(by="U0CAROL", reason="wrong ticket"), "cancelled", "U0CAROL", "wrong ticket"),
    ]
    for ending, kind, by, reason in cases:
        outcome = thread(asked(), request, ending).outcome(request)
        assert outcome is not None, kind
        assert (outcome.kind, outcome.by, outcome.reason) == (kind, by, reason)
        assert outcome.at == ending.at
    assert thread(asked(), request).outcome(request) is None


def test_a_quorum_needs_distinct_approvers_and_a_rejection_ends_it() -> None:
    request = approval(quorum=2)
    twice = thread(asked(), request, decision("U0BOB"), decision("U0BOB"))
    assert twice.outcome(request) is None and twice.status is Status.WAITING_APPROVAL
    assert [d.user for d in twice.approvals("c1")] == ["U0BOB"]

    met = twice.append(decision("U0CAROL"))
    outcome = met.outcome(request)
    assert outcome is not None and (outcome.kind, outcome.by) == ("approved", "U0CAROL")

    refused = twice.append(decision("U0CAROL", approved=False, reason="no"))
    outcome = refused.outcome(request)
    assert outcome is not None and (outcome.kind, outcome.by) == ("rejected", "U0CAROL")


def test_the_first_ending_wins() -> None:
    request = approval()
    t = thread(asked(), request, decision("U0BOB", approved=False), decision("U0CAROL"))
    outcome = t.outcome(request)
    assert outcome is not None and (outcome.kind, outcome.by) == ("rejected", "U0BOB")


def test_an_approver_edit_is_the_call_that_runs() -> None:
    request = approval()
    edited = DEPLOY | {"version": "1.4.3"}
    assert thread(asked(), request, decision("U0BOB")).approved_action(request) == DEPLOY
    with_edit = thread(asked(), request, decision("U0BOB", edited_action=edited))
    assert with_edit.approved_action(request) == edited


# --- small readers -----------------------------------------------------------------------------


def test_who_took_an_escalation_and_which_messages_were_taken_in() -> None:
    t = thread(
        asked(),
        call(ESCALATION, reason="stuck"),
        EscalationTaken(call_id="c1", user="U0CAROL"),
        EscalationTaken(call_id="c1", user="U0BOB"),
        HumanResponse(call_id="c1", user="U0CAROL", text="rolled back", message_ts="2.0"),
    )
    assert t.taken_by("c1") == "U0CAROL"
    assert t.taken_by("c9") is None
    assert t.has_message("1.0") and t.has_message("2.0") and not t.has_message("3.0")
    assert [type(e) for e in t.about("c1")] == [EscalationTaken, EscalationTaken, HumanResponse]


def test_model_steps_count_only_the_models_calls() -> None:
    gated = ToolCall(call_id="c2", intent=APPROVAL, arguments={"action": DEPLOY}, source="policy")
    t = thread(asked(), call("list_deploys"), gated, call(FINAL, "c3", message="ok"))
    assert t.model_steps() == 2
    assert t.call("c2") == gated and t.call("c9") is None


# --- the error streak -------------------------------------------------------------------------


def test_consecutive_errors_count_back_to_the_last_step_that_went_well() -> None:
    assert thread(asked()).consecutive_errors() == 0
    assert thread(asked(), step_error(), step_error()).consecutive_errors() == 2
    ok = ToolResult(call_id="c1", intent="list_deploys", output={})
    streak = thread(asked(), step_error(), ok, step_error())
    assert streak.consecutive_errors() == 1


def test_failed_tool_calls_and_delivery_errors_do_not_break_the_streak() -> None:
    t = thread(
        asked(),
        step_error(),
        call("deploy", "c2", service="api", version="1.4.2"),
        step_error(),
        delivery_error(),
        step_error(),
    )
    assert t.consecutive_errors() == 3


def test_a_human_request_or_message_ends_the_streak() -> None:
    after_request = thread(asked(), step_error(), approval(), step_error())
    assert after_request.consecutive_errors() == 1
    after_message = thread(asked(), step_error(), asked("try again"), step_error())
    assert after_message.consecutive_errors() == 1


# --- requests inside a thread ---------------------------------------------------------------


def mentioned(user: str, text: str = "deploy api 1.4.2 to production") -> UserMessage:
    return UserMessage(user=user, text=text, message_ts=f"{user}.1")


def test_each_mention_starts_a_request_whose_requester_is_who_asked() -> None:
    first = call(FINAL, "c1", message="done")
    t = thread(asked(), first, mentioned("U0BOB"), approval("c3"))
    assert t.request_start() == 2
    assert t.request_events() == t.events[2:]
    assert t.current_requester == "U0BOB"
    assert t.requester_of("c3") == "U0BOB"
    # Calls of earlier requests keep their own requester; the thread keeps its launcher.
    assert t.requester_of("c1") == "U0ALICE"
    assert t.requester == "U0ALICE"
    assert t.request_start(1) == 0


def test_a_thread_without_a_message_falls_back_to_its_launcher() -> None:
    t = Thread(id="t1", agent="deploy", requester="api:ci", events=[call("list_deploys")])
    assert t.request_start() == 0
    assert t.current_requester == "api:ci"
    assert t.requester_of("c1") == "api:ci"
    assert t.requester_of("c9") == "api:ci"
    empty = Thread(id="t2", agent="deploy", requester="U0ALICE")
    assert empty.current_requester == "U0ALICE" and empty.request_events() == []


def test_an_unknown_call_belongs_to_the_latest_request() -> None:
    t = thread(asked(), call(FINAL, "c1", message="done"), mentioned("U0BOB"))
    assert t.requester_of("c9") == "U0BOB"


def test_the_step_budget_counts_only_the_latest_request() -> None:
    one = [call("list_deploys", f"a{n}") for n in range(4)]
    t = thread(asked(), *one, call(FINAL, "a9", message="ok"), mentioned("U0BOB"))
    assert t.model_steps() == 0
    t = t.append(call("list_deploys", "b1"))
    assert t.model_steps() == 1


def test_the_error_streak_counts_only_the_latest_request() -> None:
    failing = thread(asked(), step_error(), step_error(), mentioned("U0BOB"))
    assert failing.consecutive_errors() == 0
    assert failing.append(step_error()).consecutive_errors() == 1
