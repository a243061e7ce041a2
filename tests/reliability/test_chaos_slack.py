"""Slack misbehaving once at each Web API call of an approval cycle, refusing messages for good,
and long texts. Whatever Slack does, the run ends, the deploy runs once, and the card and the
result show exactly once; what Slack refuses for good gets a fallback and an `error` event.

Faults come from the emulator (`slack.fail`, `slack.stall`, `slack.refuse`, `slack.rate_limit`).
A stall is always `after=True` (Slack did the work, then answered too late): that is the case a
retry must not repeat, and the only one a bot can be held to (a post that lands after the bot
gave up and posted again cannot be told apart from a second post)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from agents.models.scripted import ScriptedModel
from agents.runtime.thread import Status
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, MakeBot
from tests.reliability.chaos import (
    Cycles,
    assert_clean,
    card_shown,
    cycle_deploy,
    cycle_result,
    delivery_errors,
    in_process_worker,
    open_card,
    thread_of_root,
    wait_until,
)
from tests.reliability.support import Tally, deployed
from tests.support import bot_replies, has_buttons, mention, shown_text

METHODS = [
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "reactions.add",
    "reactions.remove",
    "assistant.threads.setStatus",
    "views.open",
]
FAULTS = ["500", "500_after", "429", "stall"]
STATUS_METHODS = (
    "chat.postMessage",
    "reactions.add",
    "reactions.remove",
    "assistant.threads.setStatus",
)
"""Methods whose first call comes before the card: their fault is injected at launch."""
STALL = 6.0
"""A stalled call answers after this long; the bot gives up after `hitl_slack_timeout` (1 s)."""
WITHIN = 4.5
"""Seconds in which a run hit by one fault must still end: less than STALL, so a bot that
waits on a stalled call instead of timing out fails."""
LATE = 99_999
"""The milliseconds reported for something that did not happen within WITHIN."""
INCIDENTS = "C0INCIDENTS"
SETTINGS = {"hitl_slack_timeout": 1, "hitl_reconcile_seconds": 0.5}


def inject(slack: SlackEmulator, method: str, fault: str) -> None:
    """The next call of `method` misbehaves, once."""
    match fault:
        case "500":
            slack.fail(method, status=500)
        case "500_after":
            slack.fail(method, status=500, after=True)
        case "429":
            slack.rate_limit(method, retry_after=1)
        case "stall":
            slack.stall(method, seconds=STALL, after=True)


async def ends(predicate: Callable[[], bool]) -> int:
    """Milliseconds until `predicate` held; LATE if it did not within WITHIN seconds."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    if not await wait_until(predicate, seconds=WITHIN):
        return LATE
    return round((loop.time() - started) * 1000)


def said(slack: SlackEmulator, root: str, needle: str = "") -> Callable[[], bool]:
    """A bot message in the thread shows `needle` (any bot message if empty)."""
    return lambda: any(needle in shown_text(m) for m in bot_replies(slack, DEPLOYS, root))


def told(slack: SlackEmulator, user: str) -> Callable[[], bool]:
    return lambda: any(e.user == user for e in slack.ephemerals)


def paged(slack: SlackEmulator, channel: str, root: str | None = None) -> Callable[[], bool]:
    """A message with buttons (a page) in `channel`, in the thread `root` if given."""
    return lambda: any(
        m.channel == channel and has_buttons(m) and (root is None or m.thread_ts == root)
        for m in slack.messages
    )


async def approve_by_edit(slack: SlackEmulator, card_root: str) -> bool:
    """Bob approves through the Edit modal (views.open), changing nothing; when the bot tells
    him the form did not open (a trigger id lives 3 s, so only he can retry), he clicks again
    as a person would. False if no modal."""
    card = open_card(slack, card_root)
    assert card is not None
    for _ in range(2):
        await slack.click(user=BOB, message=card, action_id="hitl_edit")
        answered = lambda: bool(slack.open_views(BOB)) or told(slack, BOB)()  # noqa: E731
        if await wait_until(answered, seconds=WITHIN) and slack.open_views(BOB):
            break
    if not slack.open_views(BOB):
        return False
    (modal,) = slack.open_views(BOB)
    response = await slack.submit_view(user=BOB, view=modal)
    return response.status_code == 200


async def decide(slack: SlackEmulator, method: str, fault: str, root: str, tally: Tally) -> None:
    """Bob's decision, with the fault on the call the decision makes (for the methods a
    decision calls); Mallory's refused click first when the ephemeral is under test."""
    if method in ("chat.update", "chat.postEphemeral", "views.open"):
        inject(slack, method, fault)
    if method == "chat.postEphemeral":
        card = open_card(slack, root)
        assert card is not None
        await slack.click(user=MALLORY, message=card, action_id="hitl_approve")
        tally.update(ms_to_tell_mallory=await ends(told(slack, MALLORY)))
    if method == "views.open":
        tally.update(modal_opened=await approve_by_edit(slack, root))
        return
    card = open_card(slack, root)
    assert card is not None
    await slack.click(user=BOB, message=card, action_id="hitl_approve")


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("method", METHODS)
async def test_one_slack_fault_in_an_approval_cycle_loses_and_repeats_nothing(
    method: str, fault: str, slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    bot = await make_bot(**SETTINGS)
    cycles = Cycles()
    async with in_process_worker(bot):
        if method.startswith("reactions."):
            # The ⏳ is shown only where Slack refuses status lines.
            slack.refuse("assistant.threads.setStatus", "not_allowed")
        if method in STATUS_METHODS:
            inject(slack, method, fault)  # the first such call of the cycle: the card's post
        await cycles.launch(slack, [0])
        root = cycles.roots[0]
        tally.update(ms_to_card=await ends(card_shown(slack, root)))
        if open_card(slack, root) is not None:
            await decide(slack, method, fault, root, tally)
            tally.update(ms_to_result=await ends(lambda: cycles.done(slack)))
        await asyncio.sleep(0.5)  # a late duplicate shows now
        await cycles.audit(slack, redis, tally)
    refusals = [e for e in slack.ephemerals if e.user == MALLORY]
    settled = [e for e in slack.ephemerals if e.user == BOB and "Already settled" in e.text]
    tally.update(mallory_told=len(refusals), bob_told_already_settled=len(settled))

    assert slack.calls_to(method), f"the cycle never called {method}"
    assert_clean(tally)
    assert tally["ms_to_card"] < LATE and tally["ms_to_result"] < LATE
    assert not settled, "the approver was told his own approval was already settled"
    if method == "chat.postEphemeral":
        # An ephemeral leaves no trace to check before a retry, so after a lost answer the
        # refusal may show twice; it must show.
        assert 1 <= len(refusals) <= (2 if fault in ("500_after", "stall") else 1), tally.line()
    if method == "views.open":
        assert tally["modal_opened"] == 1, tally.line()


async def delivery_errors_after_refusal(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, error: str, tally: Tally
) -> list[str]:
    """Slack refuses the card of a run with `error`; returns the thread's delivery errors."""
    bot = await make_bot(**SETTINGS)
    async with in_process_worker(bot):
        slack.refuse("chat.postMessage", error, times=1, channel=DEPLOYS)  # the card's post
        root = await mention(slack, "deploy api 1.4.0 to production")
        tally.update(ms_to_fallback=await ends(said(slack, root, "1.4.0")))
        await asyncio.sleep(0.5)
    thread = await thread_of_root(redis, root)
    assert thread is not None
    errors = [e.message for e in delivery_errors(thread)]
    tally.update(delivery_errors=len(errors), bot_messages=len(bot_replies(slack, DEPLOYS, root)))
    tally.update({f"status_{thread.status}": 1})
    return errors


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long"])
async def test_a_card_slack_refuses_for_good_gets_a_fallback_and_an_error_event(
    error: str, slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    errors = await delivery_errors_after_refusal(slack, make_bot, redis, error, tally)

    assert tally["ms_to_fallback"] < LATE, "nothing in the thread shows what is asked"
    assert errors, "no delivery error event records the refused card"
    assert tally["status_running"] == 0, "the run is left running with nothing to move it"
    assert await deployed(redis) == []  # a refused card approves nothing


async def test_not_in_channel_for_the_escalation_channel_pages_in_the_origin_thread(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    model = ScriptedModel(
        {"intent": "escalate", "reason": "the checkout service is down", "urgency": "high"}
    )
    bot = await make_bot(
        model=model, hitl_escalation_channel=INCIDENTS, hitl_oncall=CAROL, **SETTINGS
    )
    async with in_process_worker(bot):
        slack.refuse("chat.postMessage", "not_in_channel", channel=INCIDENTS)
        root = await mention(slack, "the checkout service is down")
        tally.update(ms_to_page=await ends(paged(slack, DEPLOYS, root)))
        await asyncio.sleep(0.5)
    replies = bot_replies(slack, DEPLOYS, root)
    invite = [
        m
        for m in replies
        if any(name in shown_text(m) for name in (INCIDENTS, "#incidents"))
        and "invite" in shown_text(m).lower()
    ]
    thread = await thread_of_root(redis, root)
    assert thread is not None
    tally.update(
        pages_in_thread=sum("hitl_take" in str(m.blocks) for m in replies),
        invite_hints=len(invite),
        delivery_errors=len(delivery_errors(thread)),
        pages_in_escalation_channel=sum(m.channel == INCIDENTS for m in slack.messages),
    )

    assert tally["pages_in_thread"] == 1, "the page is lost: nobody can take it"
    assert tally["invite_hints"] == 1, f"nobody is told to invite the bot to <#{INCIDENTS}>"
    assert tally["delivery_errors"] >= 1
    assert "the checkout service is down" in "\n".join(shown_text(m) for m in replies)
    assert thread.status is Status.WAITING_ESCALATION


def long_reply(request: object) -> str:
    del request
    words = ("The 1.4.2 release changes the checkout retry policy. " * 100)[:5000]
    return json.dumps({"intent": "done_for_now", "message": words})


async def test_a_5000_character_reply_is_delivered(
    slack: SlackEmulator, make_bot: MakeBot, tally: Tally
) -> None:
    bot = await make_bot(model=ScriptedModel(long_reply), **SETTINGS)
    async with in_process_worker(bot):
        root = await mention(slack, "deploy api: what changes in 1.4.2?")
        tally.update(ms_to_reply=await ends(said(slack, root)))
    shown = "\n".join(shown_text(m) for m in bot_replies(slack, DEPLOYS, root))
    refused = [c for c in slack.calls if not c.response.get("ok")]
    tally.update(replies=len(bot_replies(slack, DEPLOYS, root)), refused_calls=len(refused))

    assert shown.count("checkout retry policy") >= 90, "the reply was cut or never delivered"
    assert not refused, [(c.method, c.response.get("error")) for c in refused]


async def test_a_600_character_approval_summary_is_delivered_and_approvable(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    summary = ("Ship api 1.4.0 to production to fix the checkout retries. " * 11)[:600]
    service, version, environment = cycle_deploy(0)
    action = {"intent": "deploy", "service": service, "version": version}
    action |= {"environment": environment}
    model = ScriptedModel(
        {"intent": "request_approval", "action": action, "summary": summary},
        {"intent": "done_for_now", "message": f"{cycle_result(0)}."},
    )
    bot = await make_bot(model=model, **SETTINGS)
    cycles = Cycles()
    async with in_process_worker(bot):
        await cycles.launch(slack, [0])
        await cycles.approve(slack, [0], seconds=WITHIN)
        await wait_until(lambda: cycles.done(slack), seconds=WITHIN)
        await asyncio.sleep(0.3)
        await cycles.audit(slack, redis, tally)
    refused = [c for c in slack.calls if not c.response.get("ok")]
    tally.update(refused_calls=len(refused))

    assert not refused, [(c.method, c.response.get("error")) for c in refused]
    assert_clean(tally)
    assert await deployed(redis) == [cycle_deploy(0)]


async def test_a_5000_character_answer_to_a_question_is_taken_and_shown(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    model = ScriptedModel(
        {"intent": "request_input", "question": "What should the release notes of api say?"},
        {"intent": "done_for_now", "message": "Noted, thanks."},
    )
    bot = await make_bot(model=model, **SETTINGS)
    answer = ("Checkout retries now back off exponentially. " * 120)[:5000]
    async with in_process_worker(bot):
        root = await mention(slack, "deploy api: write the release notes")
        assert await wait_until(said(slack, root), seconds=WITHIN)
        await slack.post_message(user=ALICE, channel=DEPLOYS, text=answer, thread_ts=root)
        tally.update(ms_to_reply=await ends(said(slack, root, "Noted, thanks.")))
        await asyncio.sleep(0.3)
    thread = await thread_of_root(redis, root)
    assert thread is not None
    refused = [c for c in slack.calls if not c.response.get("ok")]
    question = bot_replies(slack, DEPLOYS, root)[0]
    tally.update(refused_calls=len(refused), delivery_errors=len(delivery_errors(thread)))

    assert thread.status is Status.DONE, tally.line()
    assert not refused, [(c.method, c.response.get("error")) for c in refused]
    assert not delivery_errors(thread), "nothing here should have been refused"
    assert "Checkout retries now back off" in shown_text(question)  # the card shows the answer
    assert tally["ms_to_reply"] < LATE


async def test_a_5000_character_escalation_reason_still_pages_on_call(
    slack: SlackEmulator, make_bot: MakeBot, tally: Tally
) -> None:
    reason = ("Checkout returns 500s for every card payment since 14:02. " * 90)[:5000]
    model = ScriptedModel({"intent": "escalate", "reason": reason, "urgency": "high"})
    bot = await make_bot(
        model=model, hitl_escalation_channel=INCIDENTS, hitl_oncall=CAROL, **SETTINGS
    )
    async with in_process_worker(bot):
        await mention(slack, "the checkout service is down")
        tally.update(ms_to_page=await ends(paged(slack, INCIDENTS)))
    refused = [c for c in slack.calls if not c.response.get("ok")]
    tally.update(refused_calls=len(refused))

    assert tally["ms_to_page"] < LATE, "nobody was paged"
    assert not refused, [(c.method, c.response.get("error")) for c in refused]
