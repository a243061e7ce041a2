"""Every piece of text the bot shows people in Slack."""

from __future__ import annotations

from datetime import datetime

APPROVE = "Approve"
REJECT = "Reject"
APPROVAL_HEADER = "Approval needed"


def slack_date(at: datetime) -> str:
    """A date Slack shows in each reader's own time zone, with a UTC fallback."""
    epoch = int(at.timestamp())
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def approval_fallback(summary: str) -> str:
    return f"Approval needed: {summary}"


def requested_by(user: str) -> str:
    return f"Requested by <@{user}> · the requester cannot approve their own request"


def approved_by(user: str, at: datetime) -> str:
    return f"✅ Approved by <@{user}> on {slack_date(at)}"


def rejected_by(user: str, at: datetime, reason: str | None) -> str:
    because = f": {reason}" if reason else ""
    return f"❌ Rejected by <@{user}> on {slack_date(at)}{because}"


def question(text: str) -> str:
    return f"❓ {text}\n_Reply in this thread to answer._"


NOT_ALLOWED = (
    "You can't approve this request: nobody approves their own request, and only the "
    "configured approvers can approve."
)
STALE = "This request is no longer waiting for a decision."
UNKNOWN_THREAD = "I can't find the run this button belongs to. It may have expired or been removed."
UNKNOWN_ACTION = "This button isn't one I know. Nothing was changed."


def already_settled(user: str, at: datetime, approved: bool | None) -> str:
    verb = {True: "approved", False: "rejected", None: "answered"}[approved]
    return f"This request was already {verb} by <@{user}> on {slack_date(at)}."
