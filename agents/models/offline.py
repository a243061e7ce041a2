"""The offline model: a deterministic planner that needs no API key (sandbox, demos, tests).
It reads the typed thread and returns the same JSON tool calls a real model would. One planner
per agent; the keywords that route a mention to an agent are here too (agents/runtime/routing.py).

Grammar (the README documents it):
  deploy    deploy <service> <version> to <environment>   staging runs at once, production asks
            deploy <service> to <environment>             asks which version
            rollback <service> in <environment> [to <version>]   (also "roll back")
            versions of <service>                         (also "list versions of <service>")
  access    give|grant <user> <read|write|admin> access to <resource> [for <N> hours|days|weeks]
                [because <justification>]                 asks for what is missing
            revoke <user> access to <resource>
  incident  <service> is returning 500s / is down / ...   pre-fetched deploys and incidents,
                                                          escalates; "rollback" in on-call's
                                                          reply proposes a rollback
Versions may be written 1.4.2 or v1.4.2; prod means production. Anything else gets help.
"""

from __future__ import annotations

import json
import re

from agents.models.offline_access import plan_access
from agents.models.offline_incident import plan_incident
from agents.models.planning import (
    answers,
    answers_escalation,
    call,
    clean,
    done,
    latest_request,
    rejected_action,
)
from agents.runtime.events import ApprovalDecision, Error, HumanResponse, RequestExpired, ToolResult
from agents.runtime.thread import Thread
from agents.runtime.types import ModelReply, ModelRequest

HELP = (
    "I didn't catch that. I understand:\n"
    "• `deploy <service> <version> to <staging|production>`,"
    " e.g. `deploy api 1.4.2 to production`\n"
    "• `deploy <service> to <staging|production>` (I'll ask which version)\n"
    "• `rollback <service> in <staging|production> [to <version>]`\n"
    "• `versions of <service>`"
)
EXAMPLES = {
    "deploy": "deploy api 1.4.2 to production",
    "access": "give @dana read access to billing-db for 2 days because she is on call",
    "incident": "checkout is returning 500s",
}
ENVIRONMENTS = {
    "staging": "staging",
    "stage": "staging",
    "production": "production",
    "prod": "production",
}
NOTHING_RAN = {
    "deploy": "nothing was deployed",
    "rollback": "nothing was rolled back",
    "grant_access": "no access was granted",
}

_SERVICE = r"(?P<service>[a-z0-9][a-z0-9._-]*)"
_DEPLOY = re.compile(
    rf"^deploy\s+{_SERVICE}(?:\s+(?P<version>v?\d+\.\d+\.\d+\S*))?"
    r"\s+to\s+(?P<environment>\w+)\W*$",
    re.IGNORECASE,
)
_ROLLBACK = re.compile(
    rf"^roll\s?back\s+{_SERVICE}\s+(?:in|on|from)\s+(?P<environment>\w+)"
    r"(?:\s+to\s+(?P<version>v?\d+\.\d+\.\d+\S*?))?\W*$",
    re.IGNORECASE,
)
_VERSIONS = re.compile(rf"^(?:list\s+|which\s+|show\s+)?versions\s+(?:of\s+)?{_SERVICE}\W*$", re.I)
_VERSION = re.compile(r"\bv?(\d+\.\d+\.\d+)\b")

_ROUTES = (
    ("deploy", re.compile(r"^(deploy|roll\s?back|(list |which |show )?versions)\b", re.I)),
    ("access", re.compile(r"\baccess\b", re.I)),
    (
        "incident",
        re.compile(
            r"\b(5\d\ds?|5xxs?|errors?|down|outage|incident|failing|broken|timing out|timeouts?|"
            r"slow|latency|crash(es|ing)?|on-?call)\b",
            re.I,
        ),
    ),
)


def route_by_keywords(text: str) -> str | None:
    """The agent the offline grammar routes `text` to, if any."""
    words = clean(text)
    return next((agent for agent, pattern in _ROUTES if pattern.search(words)), None)


def plan_deploy(thread: Thread) -> str:
    last = thread.last_step
    match last:
        case ToolResult(intent="deploy" | "rollback" | "list_versions", output=out):
            return done(_reported(last.intent, out))
        case ApprovalDecision(approved=False, user=user, reason=reason):
            return done(_rejected(thread, last, user, reason))
        case RequestExpired():
            return done("Nobody decided in time, so nothing was deployed.")
        case HumanResponse(user=user, text=text) if answers_escalation(thread, last):
            return done(f"Thanks <@{user}>, it's yours from here. Your note: {text}")
        case Error(message=message):
            return done(f"I couldn't finish: {message}")
        case _:
            return _plan_request(thread)


def _reported(intent: str, out: dict[str, object]) -> str:
    where = f"{out.get('service')} {out.get('version') or ''}".strip()
    if intent == "list_versions":
        versions = out.get("versions") or []
        listed = ", ".join(str(v) for v in versions) if isinstance(versions, list) else ""
        return f"Versions of {out.get('service')}: {listed or 'none found'}."
    if out.get("status") == "dispatched":
        return (
            f"🚀 Started the {intent} workflow for {where} in {out.get('environment')} "
            f"({out.get('runs_url')})."
        )
    if intent == "rollback":
        return f"↩️ Rolled back {out['service']} in {out['environment']} to {out['version']}."
    ref = f" (deployment {out['deployment_id']})" if out.get("deployment_id") else ""
    return f"✅ Deployed {where} to {out.get('environment')}{ref}."


def _rejected(thread: Thread, decision: ApprovalDecision, user: str, reason: str | None) -> str:
    intent = str(rejected_action(thread, decision).get("intent", "deploy"))
    because = f": {reason}" if reason else "."
    return f"Rejected by <@{user}>, so {NOTHING_RAN.get(intent, 'nothing ran')}{because}"


def _plan_request(thread: Thread) -> str:
    text = clean(latest_request(thread).text)
    if found := _VERSIONS.match(text):
        return call("list_versions", service=found["service"].lower())
    if found := _ROLLBACK.match(text):
        return _rollback(found)
    found = _DEPLOY.match(text)
    if found is None:
        return done(HELP)
    environment = ENVIRONMENTS.get(found["environment"].lower())
    if environment is None:
        return done(f"I can deploy to staging or production, not `{found['environment']}`.")
    version = found["version"] or _answered_version(thread)
    if version is None:
        service = found["service"]
        return call(
            "request_input",
            question=f"Which version of {service} should I deploy to {environment}?",
        )
    deploy = {
        "intent": "deploy",
        "service": found["service"].lower(),
        "version": version,
        "environment": environment,
    }
    if environment == "production":
        summary = f"Deploy {deploy['service']} {version.lstrip('vV')} to production"
        return call("request_approval", action=deploy, summary=summary)
    return json.dumps(deploy)


def _rollback(found: re.Match[str]) -> str:
    environment = ENVIRONMENTS.get(found["environment"].lower())
    if environment is None:
        return done(f"I can roll back staging or production, not `{found['environment']}`.")
    rollback: dict[str, object] = {
        "intent": "rollback",
        "service": found["service"].lower(),
        "environment": environment,
    }
    if found["version"]:
        rollback["to_version"] = found["version"]
    if environment == "production":
        target = found["version"].lstrip("vV") if found["version"] else "the previous version"
        summary = f"Roll back {rollback['service']} in production to {target}"
        return call("request_approval", action=rollback, summary=summary)
    return json.dumps(rollback)


def _answered_version(thread: Thread) -> str | None:
    replies = answers(thread)
    if not replies:
        return None
    found = _VERSION.search(replies[-1][1])
    return found[1] if found else None


PLANNERS = {"deploy": plan_deploy, "access": plan_access, "incident": plan_incident}


class OfflineModel:
    """Deterministic stand-in for an LLM; one planner per agent."""

    async def next_step(self, request: ModelRequest) -> ModelReply:
        planner = PLANNERS.get(request.agent)
        if planner is None:
            return ModelReply(
                done(f"The offline model has no planner for the `{request.agent}` agent.")
            )
        return ModelReply(planner(request.thread))
