"""Every piece of text the bot shows people in Slack.

Text from people and the model is escaped (`limits.escape`) wherever it is embedded, so it can
neither mention anyone nor build links; the mentions and dates built here stay live. Every
function returns text within the limit of the place it is shown in (`limits.cut`, "…").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from agents.runtime.events import Terms
from agents.runtime.thread import Outcome
from agents.runtime.types import RefusalReason
from bot.slack.limits import (
    CONFIRM_TEXT,
    CONTEXT_TEXT,
    FOLLOW_UP_TEXT,
    MESSAGE_TEXT,
    SECTION_TEXT,
    chunks,
    cut,
    escape,
)
from tools.types import SLACK_USER, Shown, shown_value

APPROVE = "Approve"
REJECT = "Reject"
EDIT = "Edit"
CANCEL = "Cancel"
TAKE_IT = "Take it"
APPROVAL_HEADER = "Approval needed"
CONFIRM_TITLE = "Approve this?"
REJECT_TITLE = "Reject"
REASON_LABEL = "Why are you rejecting it?"
REASON_HINT = "The agent sees this and may propose something else."
EDIT_TITLE = "Edit, then approve"
EDIT_SUBMIT = "Approve edited"
ANSWER_HINT = "Pick an answer, or reply in this thread."
REPLY_HINT = "Reply in this thread to answer."
NO_TEXT = "(no text given)"
NOTHING_TO_EDIT = "Nothing here can be edited in a form; approve it as it is or reject it."

NOT_ALLOWED = (
    "You can't approve or answer this request: nobody approves their own request, and only "
    "the people it names can decide it."
)
OWN_BENEFIT = (
    "You can't approve this request: you would gain from this call, and nobody approves their "
    "own benefit. Someone else it names must decide it."
)
STALE = "This request is no longer waiting for a decision."
PAUSED = "This run is paused, so nothing was changed. Click again once it is resumed."
ALREADY_APPROVED = "You already approved this; it is waiting for the other approvals."
UNKNOWN_THREAD = "I can't find the run this belongs to. It may have expired or been removed."
FORM_FAILED = "Slack didn't open the form just now, so nothing was changed. Please click again."
UNKNOWN_ACTION = "This button isn't one I know. Nothing was changed."
REASON_REQUIRED = "Please say why, so the agent can propose something else."
CARD_OUT_OF_DATE = (
    "This card is out of date, so nothing was changed. Use the latest card for this request "
    "in the thread (if it has just appeared, click again in a moment)."
)
FORM_NOT_OURS = (
    "This form doesn't match one I opened for you, so nothing was changed. Close it and "
    "click the button on the request's card again."
)


def slack_date(at: datetime) -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback."""
    epoch = int(at.timestamp())
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(slack_id: str) -> str:
    """A user (U…/W…) or user group (S…) mention."""
    return f"<!subteam^{slack_id}>" if slack_id.startswith("S") else f"<@{slack_id}>"


def mentions(ids: Iterable[str]) -> str:
    return ", ".join(mention(i) for i in ids)


def label(field: str) -> str:
    """An argument's name as a plain-text label."""
    return field.replace("_", " ").capitalize()


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def call_summary(summary: str, users: Iterable[str]) -> str:
    """A tool's own summary of a call as mrkdwn: escaped, except the mentions of the call's
    user arguments (`users`, ids the tool validated), which stay live."""
    live = [u for u in users if _USER_ID.fullmatch(u)]
    if not live:
        return escape(summary)
    token = re.compile("|".join(re.escape(f"<@{u}>") for u in live))
    parts, at = [], 0
    for found in token.finditer(summary):
        parts += [escape(summary[at : found.start()]), found.group()]
        at = found.end()
    return "".join([*parts, escape(summary[at:])])


def unknown_tool_summary(intent: str) -> str:
    """The card's main text when the tool's model is not known here (a removed tool)."""
    name = escape(intent.replace("`", "'"))
    return f"Run `{name}` with the arguments below"


def approval_fallback(summary: str) -> str:
    """The notification text of an approval: the call's code-rendered summary (mrkdwn)."""
    return cut(f"Approval needed: {summary}", FOLLOW_UP_TEXT)


SETTLED_HEADERS = {
    "approved": "✅ Approved",
    "rejected": "❌ Rejected",
    "expired": "⏰ Expired: nothing ran",
    "cancelled": "⏹ Cancelled",
    "answered": "Answered",
}
"""A settled approval card's header and fallback prefix, by how it ended: the card's header
follows the request's state instead of still asking for approval."""


def settled_header(result: Outcome) -> str:
    return SETTLED_HEADERS[result.kind]


def settled_fallback(result: Outcome, summary: str) -> str:
    """The fallback text of a settled approval card: how it ended, then the call."""
    return cut(f"{SETTLED_HEADERS[result.kind]}: {summary}", FOLLOW_UP_TEXT)


CONFIRM_TAIL = ". It runs as soon as the approval is complete."


def confirm_approval(summary: str) -> str:
    """The confirm dialog's text: the call's code-rendered summary (mrkdwn), cut so the whole
    fits the dialog."""
    return cut(summary, CONFIRM_TEXT - len(CONFIRM_TAIL)) + CONFIRM_TAIL


def strong(mrkdwn: str, limit: int) -> str:
    """Text already rendered as mrkdwn, in bold, cut to fit `limit` with its asterisks."""
    return f"*{cut(mrkdwn, limit - 2)}*"


MODEL_SUMMARY = "_Model's summary:_ "


def model_summary(text: str, limit: int = CONTEXT_TEXT) -> str:
    """The model's own words about a call, labelled as the model's and escaped."""
    return cut(MODEL_SUMMARY + escape(text), limit)


def argument(name: str, value: object, limit: int) -> str:
    """One argument of a call as a section field: its label in bold, then its value."""
    return cut(f"*{escape(label(name))}*\n{escape(str(value))}", limit)


def shown(field: Shown, limit: int) -> str:
    """One argument as its tool shows it: the label in bold, then the value, escaped; a user
    argument as a mention when it is a user ID."""
    user = field.user and _USER_ID.fullmatch(field.value)
    value = f"<@{field.value}>" if user else escape(field.value)
    return cut(f"*{escape(field.label)}*\n{value}", limit)


def more_arguments(names: list[str], limit: int) -> str:
    return cut(f"*…and {len(names)} more:* {escape(', '.join(map(label, names)))}", limit)


def more_options(count: int) -> str:
    return f"…and {count} more answers that don't fit here: reply in this thread to give one."


def full_text(name: str, text: str) -> list[str]:
    """Follow-up messages that carry all of a text a card had to cut, escaped, labelled
    `Full summary (1/2):`, each within `FOLLOW_UP_TEXT`."""
    escaped = escape(text)
    most = "9" * len(str(len(escaped)))  # at least as many digits as the piece count
    head = f"Full {name} ({most}/{most}):\n"
    pieces = chunks(escaped, FOLLOW_UP_TEXT - len(head))
    n = len(pieces)
    return [f"Full {name} ({i}/{n}):\n{piece}" for i, piece in enumerate(pieces, 1)]


def final_chunks(text: str) -> list[str]:
    """A final message from the model, escaped, as as many messages as it needs (one when it
    fits), each within `FOLLOW_UP_TEXT` so it also fits a section block."""
    return chunks(escape(text), FOLLOW_UP_TEXT)


def request_terms(requester: str, terms: Terms, via: str | None = None) -> str:
    """The card's context line: who asked (and through which API token), who must decide."""
    deciders = mentions(terms.deciders) if terms.deciders else "anyone but the requester"
    need = f"{terms.quorum} approvals" if terms.quorum > 1 else "1 approval"
    relay = f" via {escape(via)}" if via else ""
    return (
        f"Requested by {who(requester)}{relay} · needs {need} from {deciders} · "
        f"expires {slack_date(terms.deadline)}"
    )


def approval_votes(voters: list[tuple[str, str | None]], quorum: int) -> str:
    """Every approval so far of a request that needs `quorum`, each voter named (`voters`:
    user and the API token that relayed the vote, if any)."""
    people = _listed([_voter(user, via) for user, via in voters], "and")
    return cut(f"👍 Approved by {people} ({len(voters)} of {quorum})", CONTEXT_TEXT)


def approved_by_all(voters: list[tuple[str, str | None]], at: datetime) -> str:
    """A request several people approved: every approver, in order, and when it settled."""
    people = _listed([_voter(user, via) for user, via in voters], "and")
    return cut(f"✅ Approved by {people} on {slack_date(at)}", CONTEXT_TEXT)


def _voter(user: str, via: str | None) -> str:
    return f"{who(user)} (via {escape(via)})" if via else who(user)


def _listed(items: list[str], word: str) -> str:
    """`a`, `a and b`, `a, b and c` (or "or")."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def outcome(result: Outcome) -> str:
    """How a request ended, for its card's context line (within `CONTEXT_TEXT`)."""
    return cut(_outcome(result), CONTEXT_TEXT)


def _outcome(result: Outcome) -> str:
    when = slack_date(result.at)
    reason = escape(result.reason) if result.reason else None
    match result.kind:
        case "approved" if result.break_glass:
            return (
                f"🚨 Approved with break-glass {_by(result)} (the requester) on {when}: "
                f"{reason or NO_TEXT}"
            )
        case "approved":
            return f"✅ Approved {_by(result)} on {when}"
        case "rejected":
            return f"❌ Rejected {_by(result)} on {when}: {reason or 'no reason given'}"
        case "answered":
            return f"💬 Answered {_by(result)} on {when}: {reason}"
        case "expired":
            return f"⏰ Expired on {when}: nobody decided in time, so nothing ran."
        case "cancelled":
            because = f": {reason}" if reason else ""
            return f"⏹ Cancelled on {when}: the run was stopped by {who(result.by or '')}{because}."


def _by(result: Outcome) -> str:
    """`by <@U1>`, or `via API token ci for <@U1>` when the API relayed the decision."""
    person = who(result.by or "")
    return f"via {escape(result.via)} for {person}" if result.via else f"by {person}"


def edited(user: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    changes = ", ".join(
        f"{label(k)} {shown_value(before.get(k))} → {shown_value(v)}"
        for k, v in after.items()
        if before.get(k) != v
    )
    return cut(f"✏️ Edited by {who(user)} before approving: {escape(changes)}", CONTEXT_TEXT)


def who(by: str) -> str:
    """A Slack user as a mention; anything else (`cli:ops`, `api:ci`) as literal code."""
    if re.fullmatch(SLACK_USER, by):
        return f"<@{by}>"
    literal = escape(cut(by.replace("`", "'"), 100))
    return f"`{literal}`"


def control(action: str, by: str, reason: str | None) -> str:
    icon = {"paused": "⏸", "resumed": "▶️", "stopped": "⏹"}[action]
    because = f": {escape(reason)}" if reason else "."
    tail = {
        "paused": " I won't take a step or a click until it is resumed.",
        "resumed": "",
        "stopped": " Nothing more will run here.",
    }[action]
    return cut(f"{icon} {action.capitalize()} by {who(by)}{because}{tail}", FOLLOW_UP_TEXT)


def launched(by: str, text: str, via: str | None = None) -> str:
    relay = escape(via) if via else "the API"
    return cut(f"🤖 Request from {who(by)} (via {relay}): {escape(text)}", MESSAGE_TEXT)


def question(text: str, limit: int = SECTION_TEXT) -> str:
    """A question to people, as a card's section text and as its fallback text."""
    return cut(f"❓ {escape(text)}", limit)


def reminder(deciders: tuple[str, ...], terms: Terms, kind: str) -> str:
    who = mentions(deciders) if deciders else "Anyone who can decide"
    return f"⏳ {who}: this {kind} is still waiting and expires {slack_date(terms.deadline)}."


def escalation_header(urgency: str) -> str:
    return "🚨 Urgent escalation" if urgency == "high" else "Escalation"


def escalation_context(requester: str, link: str, terms: Terms) -> str:
    paged = mentions(terms.deciders) if terms.deciders else "on-call"
    return f"{paged} · <{link}|Open the thread> · requested by {who(requester)}"


def escalated_in_thread(reason: str) -> str:
    return cut(f"🚨 I've asked on-call to take over: {escape(reason)}", FOLLOW_UP_TEXT)


def taken_by(user: str) -> str:
    return f"🙋 Taken by <@{user}>"


def on_it(user: str) -> str:
    return f"🙋 <@{user}> is on it. <@{user}>, reply in this thread and I'll carry on."


def refusal(
    reason: RefusalReason,
    settled: Outcome | None,
    detail: str,
    *,
    deciders: tuple[str, ...] = (),
    kind: str = "approval",
) -> str:
    """Why a person's click, form or reply was not taken; a refused decider is told who can
    decide instead (`deciders`: the request's users and user groups, the refused person left
    out; `kind`: approval, question or escalation)."""
    if detail in BREAK_GLASS_REFUSALS:
        return BREAK_GLASS_REFUSALS[detail]
    if reason in FIXED_REFUSALS:
        return FIXED_REFUSALS[reason]
    match reason:
        case "settled":
            return refusal_settled(settled)
        case "not_allowed":
            return cut(f"{NOT_ALLOWED} {can_decide(deciders, kind)}", FOLLOW_UP_TEXT)
        case "own_benefit":
            return cut(f"{OWN_BENEFIT} {can_decide(deciders, kind)}", FOLLOW_UP_TEXT)
        case "launched_via":
            return launched_via(detail)
        case "pending":
            return pending(deciders, kind)
        case "invalid_edit":
            return invalid_edit(detail)
    raise AssertionError(f"no text for refusal {reason!r}")


FIXED_REFUSALS: dict[str, str] = {
    "already_approved": ALREADY_APPROVED,
    "stale": STALE,
    "paused": PAUSED,
}


def launched_via(relay: str) -> str:
    """Refusal: the caller that asked for a call relayed an approval of it."""
    return cut(
        f"{escape(relay)} asked for this, so it cannot approve it. Someone else must decide it.",
        FOLLOW_UP_TEXT,
    )


VERBS = {"approval": "approve it", "question": "answer it", "escalation": "take it"}


def can_decide(deciders: tuple[str, ...], kind: str) -> str:
    """Who may settle a request, for someone who may not."""
    if not deciders:
        return "Anyone but the requester can decide it."
    return f"{_listed([mention(d) for d in deciders], 'or')} can {VERBS.get(kind, 'decide it')}."


def pending(deciders: tuple[str, ...], kind: str) -> str:
    """Said privately to someone who wrote in a thread that waits for a request, when what
    they wrote does not settle it: what waits, who can settle it and how."""
    people = _listed([mention(d) for d in deciders], "or")
    match kind:
        case "question":
            who_ = people or "the requester"
            return f"A question is pending: {who_} can answer it by replying in this thread."
        case "escalation":
            who_ = people or "anyone on call"
            return f"An escalation is pending: {who_} can take it with *Take it*, then reply here."
        case _:
            who_ = people or "anyone but the requester"
            return (
                f"An approval is pending: {who_} can approve it with the buttons on its card; "
                "*Reject* withdraws it. Messages here don't change it."
            )


def refusal_settled(result: Outcome | None) -> str:
    if result is None:
        return STALE
    return f"Already settled. {outcome(result)}"


def invalid_edit(detail: str) -> str:
    return cut(f"That edit can't be approved: {escape(detail)}", FOLLOW_UP_TEXT)


def reason(text: str, limit: int = SECTION_TEXT) -> str:
    """Why a request was escalated, as the escalation card's section text."""
    return cut(escape(text), limit) if text.strip() else NO_TEXT


def cannot_post_in(channel: str, error: str) -> str:
    """Said in the origin thread when Slack would not let the bot post in `channel`."""
    if error == "is_archived":
        fix = f"<#{channel}> is archived; set HITL_ESCALATION_CHANNEL to a live channel"
    elif error == "channel_not_found":
        fix = f"I can't find channel {channel}; check HITL_ESCALATION_CHANNEL"
    else:
        fix = f"invite me to <#{channel}> (`/invite @hitl` there)"
    return f":warning: I couldn't post this escalation in <#{channel}>: {fix}. It is here instead."


# Break-glass: the requester approves their own call with a reason; the deciders hear at once
# and one of them must acknowledge it.

BREAK_GLASS = "Break glass"
BREAK_GLASS_TITLE = "Break glass"
BREAK_GLASS_CONFIRM_TITLE = "Break glass?"
BREAK_GLASS_SUBMIT = "Run it now"
BREAK_GLASS_REASON_LABEL = "Why can't this wait for an approver?"
BREAK_GLASS_REASON_HINT = (
    "Required. The approvers are told at once, with this reason, and one of them must review it."
)
BREAK_GLASS_MIN_REASON = 10
"""Characters a break-glass reason needs at least (a few words), checked by Slack and by us."""
BREAK_GLASS_REASON_REQUIRED = (
    f"Say in a few words (at least {BREAK_GLASS_MIN_REASON} characters) why this can't wait."
)
ACKNOWLEDGE = "Acknowledge"
BREAK_GLASS_REFUSALS = {
    "break_glass:not_allowed": (
        "Break-glass isn't allowed for this request by policy, so nothing ran. It needs an "
        "approver's decision."
    ),
    "break_glass:not_requester": (
        "Only the person who asked for this request can break glass on it, so nothing ran."
    ),
    "break_glass:no_reason": "Break-glass needs a reason, so nothing ran.",
    "break_glass:not_in_slack": (
        "Break-glass is only taken from the requester in Slack, never through the API or CLI."
    ),
    "break_glass:not_reviewer": (
        "You can't acknowledge this break-glass: the requester and whoever gains from the call "
        "can't review it; one of the approvers must."
    ),
    "break_glass:reviewed": "This break-glass has already been acknowledged.",
}


def confirm_break_glass(summary: str) -> str:
    """The Break glass button's confirm dialog: what it does, plainly."""
    text = (
        f"You approve your own request without an approver: {summary} runs at once. The "
        "approvers are notified now, with your reason, and one of them must review it."
    )
    return cut(text, CONFIRM_TEXT)


def break_glass_not_yours(requester: str, deciders: Iterable[str]) -> str:
    """Said privately to anyone but the requester who clicks Break glass."""
    named = list(deciders)
    instead = mentions(named) if named else "anyone but the requester"
    return (
        f"Only the requester, {who(requester)}, can break glass on this request. "
        f"It can be approved by {instead}."
    )


def break_glass_notice(user: str, deciders: Iterable[str], summary: str, reason: str) -> str:
    """The thread notice (mrkdwn): who broke glass on what, why, and who must review it."""
    named = list(deciders)
    reviewers = mentions(named) if named else "Anyone but the requester"
    return cut(
        f"🚨 {reviewers}: {who(user)} broke glass and approved their own request: {summary}. "
        f"It runs now. Reason: {escape(reason)}. One of you must acknowledge it below.",
        SECTION_TEXT,
    )


def break_glass_dm(user: str, summary: str, reason: str) -> str:
    """The DM to each named approver."""
    return cut(
        f"🚨 {who(user)} broke glass and approved their own request: {summary}. "
        f"Reason: {escape(reason)}. Please review it and click Acknowledge in the thread.",
        MESSAGE_TEXT,
    )


def break_glass_reviewed(user: str) -> str:
    return f"✅ Reviewed by {who(user)}"


def break_glass_review_reminder(deciders: Iterable[str]) -> str:
    named = list(deciders)
    reviewers = mentions(named) if named else "Anyone but the requester"
    return (
        f"⏳ {reviewers}: a break-glass approval in this thread still has not been "
        "acknowledged. Please review it."
    )
