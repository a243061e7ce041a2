"""The access micro-agent: time-limited access grants, approved by the resource's owner and
revoked by code when they expire.

Its offline planner (LLM_PROVIDER=offline) understands (the README documents it):
  give|grant <user> <read|write|admin> access to <resource> [for <N> hours|days|weeks]
      [because <justification>]                 asks for what is missing
  revoke <user> access to <resource>
A user is a Slack mention (`<@U…>`, also `<@U…|name>`) or "me"; a name typed as text is refused
with a hint (who gains must be certain). Requests are read through
`agents.runtime.phrasing` (politeness, emoji and the bot's mention do not matter).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from agents.runtime.agent import Agent
from agents.runtime.events import ApprovalDecision, Error, RequestExpired, ToolResult
from agents.runtime.planning import (
    answers,
    call,
    done,
    humane_time,
    latest_request,
    rejected_action,
    request_text,
)
from agents.runtime.thread import Thread
from tools.access import ACCESS_TOOLS, GrantAccess, RevokeAccess

HELP = (
    "I didn't catch that. I understand, for example:\n"
    "• `give @dana read access to billing-db for 2 days because she is on call`"
    " (read, write or admin; I'll ask for how long and why if you don't say)\n"
    "• `revoke @dana access to billing-db`"
)
DURATION_QUESTION = "For how long should"
WHY_QUESTION = "Why does"

_USER = r"(?:<@(?P<uid>[A-Z0-9]+)>|@?(?P<name>[a-z0-9][a-z0-9._-]*))"
_GRANT = re.compile(
    rf"^(?:please\s+)?(?:give|grant)\s+{_USER}\s+(?P<level>read|write|admin)(?:-only)?\s+access"
    r"\s+(?:to|on)\s+(?P<resource>[a-z0-9][a-z0-9._-]*)(?P<rest>.*)$",
    re.IGNORECASE,
)
_REVOKE = re.compile(
    rf"^revoke\s+{_USER}(?:'s)?\s+(?:access\s+)?(?:to|on|from)\s+(?P<resource>[a-z0-9][a-z0-9._-]*)",
    re.IGNORECASE,
)
_DURATION = re.compile(
    r"\b(?P<n>\d+|an?|one)\s*(?P<unit>h|hours?|d|days?|w|weeks?)\b", re.IGNORECASE
)
_WHY = re.compile(r"\b(?:because|since|reason:?|justification:?)\s+(?P<why>.+)$", re.IGNORECASE)
_HOURS = {"h": 1, "d": 24, "w": 168}
_MYSELF = ("me", "myself")


def hours_in(text: str) -> int | None:
    """`2 days` -> 48; None when no duration is written."""
    found = _DURATION.search(text)
    if found is None:
        return None
    n = found["n"].lower()
    count = int(n) if n.isdigit() else 1
    return count * _HOURS[found["unit"][0].lower()]


def _user(found: re.Match[str], requester: str) -> str | None:
    """The Slack user ID named: a mention (what Slack sends when you pick someone after `@`), or
    "me"; None for a name typed as text, which the planner asks to be a mention."""
    name = (found["name"] or "").lower()
    return found["uid"] or (requester if name in _MYSELF else None)


def not_a_mention(name: str) -> str:
    """Why a name typed as text is not taken: who it is must be certain."""
    return (
        f"I can't tell for certain who “{name}” is. Mention the person instead: type @ and pick "
        "them from the list, e.g. `give @dana read access to billing-db for 4 hours because "
        "on call`."
    )


def _who(user: str) -> str:
    """How a grantee is shown: a Slack mention for a user ID, `@name` otherwise."""
    return f"<@{user}>" if re.fullmatch(r"U[A-Z0-9]{2,20}", user) else f"@{user}"


def plan_access(thread: Thread) -> str:
    last = thread.last_step
    match last:
        case ToolResult(intent="grant_access", output=out):
            return done(
                f"✅ Granted {_who(str(out.get('user')))} {out.get('level')} access to "
                f"{out.get('resource')} until {humane_time(out.get('expires_at'))}; it will be "
                "revoked automatically then."
            )
        case ToolResult(intent="revoke_access", output=out):
            who = _who(str(out.get("user")))
            return done(f"🔒 Revoked {who}'s access to {out.get('resource')}.")
        case ApprovalDecision(approved=False, user=user, reason=reason):
            intent = rejected_action(thread, last).get("intent")
            nothing = "no access was granted" if intent == "grant_access" else "nothing ran"
            return done(f"Rejected by <@{user}>, so {nothing}" + (f": {reason}" if reason else "."))
        case RequestExpired():
            return done("Nobody decided in time, so no access was granted.")
        case Error(message=message):
            return done(f"I couldn't finish: {message}")
        case _:
            return _plan_request(thread)


def _plan_request(thread: Thread) -> str:
    text, requester = request_text(thread), latest_request(thread).user
    if found := _REVOKE.match(text):
        user = _user(found, requester)
        if user is None:
            return done(not_a_mention(found["name"]))
        return call("revoke_access", user=user, resource=found["resource"].lower())
    found = _GRANT.match(text)
    if found is None:
        return done(HELP)
    user, level = _user(found, requester), found["level"].lower()
    if user is None:
        return done(not_a_mention(found["name"]))
    resource = found["resource"].lower()
    rest = found["rest"]
    why_match = _WHY.search(rest)
    hours = hours_in(_WHY.sub("", rest))
    why = why_match["why"].strip() if why_match else None
    for question, answer in answers(thread):
        if question.startswith(DURATION_QUESTION):
            hours = hours_in(answer) or hours
        elif question.startswith(WHY_QUESTION) and len(answer.strip()) >= 3:
            why = answer.strip()
    what = f"{level} access to {resource}"
    if hours is None:
        return call(
            "request_input",
            question=f"{DURATION_QUESTION} {_who(user)} have {what}? (e.g. 4 hours, 2 days)",
            options=["4 hours", "1 day", "2 days", "7 days"],
        )
    if why is None:
        return call("request_input", question=f"{WHY_QUESTION} {_who(user)} need {what}?")
    grant = {
        "intent": "grant_access",
        "user": user,
        "resource": resource,
        "level": level,
        "duration_hours": hours,
        "justification": why,
    }
    days = f"{hours // 24} days" if hours % 24 == 0 and hours > 24 else f"{hours} hours"
    summary = f"Grant {_who(user)} {what} for {days}: {why}"
    return json.dumps({"intent": "request_approval", "action": grant, "summary": summary})


AGENT = Agent(
    name="access",
    prompt_path=Path(__file__).with_name("access.md"),
    tools=(GrantAccess, RevokeAccess),
    families=(ACCESS_TOOLS,),
    max_steps=10,
    description="give someone time-limited access to a resource, or take it away",
    example="give @dana read access to billing-db for 2 days because she is on call",
    keywords=re.compile(r"\baccess\b", re.I),
    plan=plan_access,
)
