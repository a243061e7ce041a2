"""The offline model: a deterministic planner that needs no API key (sandbox, demos, tests).
It reads the typed thread and returns the same JSON tool calls a real model would.

Grammar (the README documents it):
  deploy <service> <version> to <environment>   staging runs at once, production asks approval
  deploy <service> to <environment>             asks which version; the reply resumes the run
Versions may be written 1.4.2 or v1.4.2; prod means production. Anything else gets help.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agents.events import (
    ApprovalDecision,
    Error,
    Event,
    HumanResponse,
    RequestExpired,
    ToolResult,
    UserMessage,
)
from agents.thread import Thread
from agents.types import ModelReply, ModelRequest

HELP = (
    "I didn't catch that. I understand:\n"
    "• `deploy <service> <version> to <staging|production>`,"
    " e.g. `deploy api 1.4.2 to production`\n"
    "• `deploy <service> to <staging|production>` (I'll ask which version)"
)
ENVIRONMENTS = {
    "staging": "staging",
    "stage": "staging",
    "production": "production",
    "prod": "production",
}

_MENTION = re.compile(r"<@[A-Z0-9]+>")
_DEPLOY = re.compile(
    r"^deploy\s+(?P<service>[a-z0-9][a-z0-9._-]*)(?:\s+(?P<version>v?\d+\.\d+\.\d+\S*))?"
    r"\s+to\s+(?P<environment>\w+)\W*$",
    re.IGNORECASE,
)
_VERSION = re.compile(r"\bv?(\d+\.\d+\.\d+)\b")


def _call(intent: str, **arguments: Any) -> str:
    return json.dumps({"intent": intent, **arguments})


def _done(message: str) -> str:
    return _call("done_for_now", message=message)


def _clean(text: str) -> str:
    return " ".join(_MENTION.sub(" ", text).split())


def plan_deploy(thread: Thread) -> str:
    last = thread.events[-1]
    match last:
        case ToolResult(intent="deploy", output=out):
            return _done(
                f"✅ Deployed {out['service']} {out['version']} to {out['environment']} "
                f"(deployment {out['deployment_id']})."
            )
        case ApprovalDecision(approved=False, user=user, reason=reason):
            because = f": {reason}" if reason else "."
            return _done(f"Rejected by <@{user}>, so nothing was deployed{because}")
        case RequestExpired():
            return _done("Nobody decided in time, so nothing was deployed.")
        case HumanResponse(call_id=call_id, user=user, text=text) if _answers_escalation(
            thread, call_id
        ):
            return _done(f"Thanks <@{user}>, it's yours from here. Your note: {text}")
        case Error(message=message):
            return _done(f"I couldn't finish: {message}")
        case _:
            return _plan_request(thread)


def _plan_request(thread: Thread) -> str:
    # The latest request counts: a mention in a finished thread starts a new one.
    start = max(i for i, e in enumerate(thread.events) if isinstance(e, UserMessage))
    request = thread.events[start]
    assert isinstance(request, UserMessage)
    match = _DEPLOY.match(_clean(request.text))
    if match is None:
        return _done(HELP)
    environment = ENVIRONMENTS.get(match["environment"].lower())
    if environment is None:
        return _done(f"I can deploy to staging or production, not `{match['environment']}`.")
    version = match["version"] or _answered_version(thread.events[start:])
    if version is None:
        service = match["service"]
        return _call(
            "request_input",
            question=f"Which version of {service} should I deploy to {environment}?",
        )
    deploy = {
        "intent": "deploy",
        "service": match["service"].lower(),
        "version": version,
        "environment": environment,
    }
    if environment == "production":
        summary = f"Deploy {deploy['service']} {version.lstrip('vV')} to production"
        return _call("request_approval", action=deploy, summary=summary)
    return json.dumps(deploy)


def _answers_escalation(thread: Thread, call_id: str) -> bool:
    call = thread.call(call_id)
    return call is not None and call.intent == "escalate"


def _answered_version(events: list[Event]) -> str | None:
    answers = [e for e in events if isinstance(e, HumanResponse)]
    if not answers:
        return None
    found = _VERSION.search(answers[-1].text)
    return found[1] if found else None


class OfflineModel:
    """Deterministic stand-in for an LLM; one planner per agent."""

    async def next_step(self, request: ModelRequest) -> ModelReply:
        if request.agent == "deploy":
            return ModelReply(plan_deploy(request.thread))
        return ModelReply(
            _done(f"The offline model has no planner for the `{request.agent}` agent.")
        )
