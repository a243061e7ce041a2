"""What /hitl and the "Ask hitl about this" shortcut say to people (mrkdwn, escaped)."""

from __future__ import annotations

from datetime import datetime

from bot.slack.limits import escape
from bot.slack.messages import mention, slack_date

HELP = "\n".join(
    [
        "*Ask hitl for something* (it asks a person before anything risky):",
        "• `/hitl deploy api 1.4.2 to production`: start a request in this channel; "
        "I post it and work in its thread.",
        "• `/hitl inbox`: what waits for your decision.",
        "• `/hitl help`: this help.",
        "You can also mention me in a channel, or pick *Ask hitl about this* in a message's "
        "menu (⋯ → More message shortcuts).",
    ]
)
EMPTY_INBOX = "Nothing waits for your decision right now. :tada:"
INBOX_HEADER = "*Waiting for your decision:*"
ASK_TITLE = "Ask hitl"
ASK_SUBMIT = "Ask"
ASK_LABEL = "What should I do about this message?"
ASK_HINT = "e.g. roll back checkout in production"
ASK_REQUIRED = "Please say what you would like me to do."


def unknown(word: str) -> str:
    return f"I don't know `{escape(word)[:40]}`.\n{HELP}"


def asked(user: str, text: str) -> str:
    """The message a /hitl request is posted as; its thread is where the agent works."""
    return f"{mention(user)} asked: {escape(text)}"


def asked_about(user: str, text: str) -> str:
    """The reply that starts work under a message picked with the shortcut."""
    return f"{mention(user)} asked about this message: {escape(text)}"


def started(channel: str) -> str:
    return f"Started in <#{channel}>: follow it in the thread of my message there."


def not_in_channel(channel: str, text: str) -> str:
    """Why nothing started, with the request given back so nothing is lost."""
    return (
        f"I can't post in <#{channel}>, so nothing was started. Invite me with "
        f"`/invite @hitl` and run it again:\n`/hitl {escape(text)}`"
    )


def could_not_post(error: str, text: str) -> str:
    return (
        f"Slack didn't let me post the request ({escape(error)}), so nothing was started. "
        f"Please try again:\n`/hitl {escape(text)}`"
    )


def inbox_line(summary: str, requester: str, channel: str | None, deadline: datetime) -> str:
    """One waiting request: `summary` is code-rendered mrkdwn already."""
    where = f" in <#{channel}>" if channel else ""
    return f"• {summary}, asked by {mention(requester)}{where}, expires {slack_date(deadline)}"


def context(author: str | None, text: str) -> str:
    """The picked message as the agent sees it: quoted, after the person's request."""
    quoted = "\n".join(f"> {line}" for line in text.splitlines() or [""])
    by = f" from <@{author}>" if author else ""
    return f"About this message{by}:\n{quoted}"
