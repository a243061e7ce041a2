"""Direct messages: approval cards to named deciders, outcomes to requesters who asked from
outside Slack. The notifier (bot/slack/notifier.py) sends them through the outbox like any
post (once, retried, a refusal recorded and told in the thread).

Who gets a card by DM: the request's deciders that are users (U…/W…), unless the policy rule
says `notify: thread`; user groups are told in the thread only (a DM to every member of a
group would be noise). The DM card has the thread card's buttons; the delivery ledger records
each copy (`flag`) so a click on it counts (bindings.py) and it is updated when the request
settles.
"""

from __future__ import annotations

import re

from agents.runtime.events import Terms
from bot.slack.limits import escape
from tools.types import SLACK_USER

_USER = re.compile(SLACK_USER)


def recipients(terms: Terms) -> list[str]:
    """The deciders who get the card by DM."""
    if terms.notify == "thread":
        return []
    return [d for d in terms.deciders if _USER.fullmatch(d)]


def flag(call_id: str, user: str) -> str:
    """The delivery-ledger flag holding `channel ts` of request `call_id`'s DM to `user`."""
    return f"dm:{call_id}:{user}"


def is_user(slack_id: str) -> bool:
    return _USER.fullmatch(slack_id) is not None


def could_not_dm(user: str, error: str) -> str:
    """Said in the thread when Slack refuses a DM for good."""
    return f"I couldn't DM <@{user}> about this request (Slack said `{escape(error)}`)."


def outcome_for_requester(summary: str, outcome: str) -> str:
    """The DM telling a requester who asked through the API or CLI how their request ended."""
    return f"Your request {summary}: {outcome}"
