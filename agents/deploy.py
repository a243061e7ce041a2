"""The deploy micro-agent: deploys and rolls back services, gated in production (tool policy).

Its offline planner (LLM_PROVIDER=offline) understands (the README documents it):
  deploy <service> <version> to <environment>   staging runs at once; production checks the
                                                version against list_versions, asks "which
                                                one?" (closest listed first) when it is not
                                                listed, then asks for approval
  deploy <service> to <environment>             asks which version ("latest" is understood)
  rollback <service> in <environment> [to <version>]   (also "roll back")
  versions of <service>                         (also "list versions of <service>")
Versions may be written 1.4.2 or v1.4.2; prod means production. Requests are read through
`agents.runtime.phrasing` (politeness, emoji and the bot's mention do not matter). Anything else
gets help.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from agents.runtime.agent import Agent
from agents.runtime.events import ApprovalDecision, Error, HumanResponse, RequestExpired, ToolResult
from agents.runtime.planning import (
    answers,
    answers_escalation,
    call,
    done,
    rejected_action,
    request_text,
)
from agents.runtime.thread import Thread
from agents.versions import listed_versions, which_version
from tools.deploy import DEPLOY_TOOLS, Deploy, ListVersions, Rollback

HELP = (
    "I didn't catch that. I understand, for example:\n"
    "• `deploy api 1.4.2 to production` (staging runs at once, production asks for approval)\n"
    "• `deploy api to staging` (I'll ask which version)\n"
    "• `rollback api in production` (add `to 1.4.1` for a given version)\n"
    "• `versions of api`"
)
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
    r"\s+(?:to|in|on|into)\s+(?P<environment>\w+)\W*$",
    re.IGNORECASE,
)
_ROLLBACK = re.compile(
    rf"^roll\s?back\s+{_SERVICE}\s+(?:in|on|from)\s+(?P<environment>\w+)"
    r"(?:\s+to\s+(?P<version>v?\d+\.\d+\.\d+\S*?))?\W*$",
    re.IGNORECASE,
)
_VERSIONS = re.compile(rf"^(?:list\s+|which\s+|show\s+)?versions\s+(?:of\s+)?{_SERVICE}\W*$", re.I)
_VERSION = re.compile(r"\bv?(\d+\.\d+\.\d+(?:[-+][0-9a-z.-]+)?)\b", re.IGNORECASE)
_LATEST = re.compile(r"\b(?:latest|newest|last)\b", re.IGNORECASE)


def plan_deploy(thread: Thread) -> str:
    last = thread.last_step
    match last:
        case ToolResult(intent="list_versions") if not _VERSIONS.match(request_text(thread)):
            return _plan_request(thread)  # the check of a version, not the answer to a question
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
    text = request_text(thread)
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
    service = found["service"].lower()
    # An answer to "which one?" replaces the version the request named.
    version = _answered_version(thread, service) or found["version"]
    if version is None:
        return call(
            "request_input",
            question=f"Which version of {service} should I deploy to {environment}?",
        )
    deploy = {"intent": "deploy", "service": service, "version": version}
    deploy["environment"] = environment
    if environment != "production":
        return json.dumps(deploy)
    listed = listed_versions(thread, service)
    if listed is None:
        return call("list_versions", service=service)
    if version.lstrip("vV") not in listed:
        return which_version(service, version, listed)
    summary = f"Deploy {service} {version.lstrip('vV')} to production"
    return call("request_approval", action=deploy, summary=summary)


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


def _answered_version(thread: Thread, service: str) -> str | None:
    replies = answers(thread)
    if not replies:
        return None
    answer = replies[-1][1]
    if found := _VERSION.search(answer):
        return found[1]
    listed = listed_versions(thread, service)
    return listed[0] if listed and _LATEST.search(answer) else None


AGENT = Agent(
    name="deploy",
    prompt_path=Path(__file__).with_name("deploy.md"),
    tools=(Deploy, ListVersions, Rollback),
    families=(DEPLOY_TOOLS,),
    max_steps=10,
    description="deploy a version of a service, list its versions, or roll it back",
    example="deploy api 1.4.2 to production",
    keywords=re.compile(r"^(deploy|roll\s?back|(list |which |show )?versions)\b", re.I),
    plan=plan_deploy,
)
