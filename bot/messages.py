"""Every piece of text the bot shows people in Slack."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from agents.events import Terms
from agents.thread import Outcome

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

NOT_ALLOWED = (
    "You can't approve or answer this request: nobody approves their own request, and only "
    "the people it names can decide it."
)
STALE = "This request is no longer waiting for a decision."
PAUSED = "This run is paused, so nothing was changed. Click again once it is resumed."
ALREADY_APPROVED = "You already approved this; it is waiting for the other approvals."
UNKNOWN_THREAD = "I can't find the run this belongs to. It may have expired or been removed."
UNKNOWN_ACTION = "This button isn't one I know. Nothing was changed."
REASON_REQUIRED = "Please say why, so the agent can propose something else."


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
    return field.replace("_", " ").capitalize()


def approval_fallback(summary: str) -> str:
    return f"Approval needed: {summary}"


def confirm_approval(summary: str) -> str:
    return f"{summary}. It runs as soon as the approval is complete."


def request_terms(requester: str, terms: Terms) -> str:
    who = mentions(terms.deciders) if terms.deciders else "anyone but the requester"
    need = f"{terms.quorum} approvals" if terms.quorum > 1 else "1 approval"
    return (
        f"Requested by <@{requester}> · needs {need} from {who} · "
        f"expires {slack_date(terms.deadline)}"
    )


def approval_vote(user: str, count: int, quorum: int) -> str:
    return f"👍 Approved by <@{user}> ({count} of {quorum})"


def outcome(result: Outcome) -> str:
    when = slack_date(result.at)
    match result.kind:
        case "approved":
            return f"✅ Approved by <@{result.by}> on {when}"
        case "rejected":
            return f"❌ Rejected by <@{result.by}> on {when}: {result.reason or 'no reason given'}"
        case "answered":
            return f"💬 Answered by <@{result.by}> on {when}: {result.reason}"
        case "expired":
            return f"⏰ Expired on {when}: nobody decided in time, so nothing ran."
        case "cancelled":
            because = f": {result.reason}" if result.reason else ""
            return f"⏹ Cancelled on {when}: the run was stopped by {who(result.by or '')}{because}."


def edited(user: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    changes = ", ".join(
        f"{label(k)} {before.get(k)} → {v}" for k, v in after.items() if before.get(k) != v
    )
    return f"✏️ Edited by <@{user}> before approving: {changes}"


def who(by: str) -> str:
    """A Slack user as a mention; anything else (`cli:ops`, `api:ci`) as it is."""
    return f"<@{by}>" if re.fullmatch(r"[UW][A-Z0-9]+", by) else f"`{by}`"


def control(action: str, by: str, reason: str | None) -> str:
    icon = {"paused": "⏸", "resumed": "▶️", "stopped": "⏹"}[action]
    because = f": {reason}" if reason else "."
    tail = {
        "paused": " I won't take a step or a click until it is resumed.",
        "resumed": "",
        "stopped": " Nothing more will run here.",
    }[action]
    return f"{icon} {action.capitalize()} by {who(by)}{because}{tail}"


def launched(by: str, text: str) -> str:
    return f"🤖 Request from {who(by)} (via the API): {text}"


def question(text: str) -> str:
    return f"❓ {text}"


def reminder(deciders: tuple[str, ...], terms: Terms, kind: str) -> str:
    who = mentions(deciders) if deciders else "Anyone who can decide"
    return f"⏳ {who}: this {kind} is still waiting and expires {slack_date(terms.deadline)}."


def escalation_header(urgency: str) -> str:
    return "🚨 Urgent escalation" if urgency == "high" else "Escalation"


def escalation_context(requester: str, link: str, terms: Terms) -> str:
    paged = mentions(terms.deciders) if terms.deciders else "on-call"
    return f"{paged} · <{link}|Open the thread> · requested by <@{requester}>"


def escalated_in_thread(reason: str) -> str:
    return f"🚨 I've asked on-call to take over: {reason}"


def taken_by(user: str) -> str:
    return f"🙋 Taken by <@{user}>"


def on_it(user: str) -> str:
    return f"🙋 <@{user}> is on it. <@{user}>, reply in this thread and I'll carry on."


def refusal_settled(result: Outcome | None) -> str:
    if result is None:
        return STALE
    return f"Already settled. {outcome(result)}"


def invalid_edit(detail: str) -> str:
    return f"That edit can't be approved: {detail}"


def cannot_post_in(channel: str, error: str) -> str:
    """Said in the origin thread when Slack would not let the bot post in `channel`."""
    if error == "is_archived":
        fix = f"<#{channel}> is archived; set HITL_ESCALATION_CHANNEL to a live channel"
    elif error == "channel_not_found":
        fix = f"I can't find channel {channel}; check HITL_ESCALATION_CHANNEL"
    else:
        fix = f"invite me to <#{channel}> (`/invite @hitl` there)"
    return f":warning: I couldn't post this escalation in <#{channel}>: {fix}. It is here instead."
