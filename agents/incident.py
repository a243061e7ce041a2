"""The incident micro-agent: recent deploys and open incidents are fetched by code before the
model's first step; it pages on-call with a summary and may propose a (gated) rollback.

Its offline planner (LLM_PROVIDER=offline) understands "<service> is returning 500s / is down /
...": it escalates with what the pre-fetched deploys and incidents show, and "rollback" in
on-call's reply proposes a rollback (the README documents it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agents.runtime.agent import Agent
from agents.runtime.events import ApprovalDecision, Error, HumanResponse, RequestExpired, ToolResult
from agents.runtime.planning import (
    answers,
    answers_escalation,
    call,
    clean,
    done,
    latest_request,
    result,
)
from agents.runtime.thread import Thread
from tools.deploy import DEPLOY_TOOLS, ListRecentDeploys, Rollback
from tools.incidents import INCIDENT_TOOLS, ListOpenIncidents

_AFFECTED = re.compile(
    r"^(?:the\s+)?(?P<service>[a-z0-9][a-z0-9._-]*)\s+(?:is|are|has|keeps|returns|returning|"
    r"throws|seems|looks)\b",
    re.IGNORECASE,
)
_ROLLBACK = re.compile(r"\broll\s?back\b", re.IGNORECASE)
WHICH_SERVICE = "Which service is affected?"


def plan_incident(thread: Thread) -> str:
    last = thread.last_step
    match last:
        case ToolResult(intent="rollback", output=out):
            return done(
                f"↩️ Rolled back {out.get('service')} in {out.get('environment')} to "
                f"{out.get('version')}. Keep an eye on the error rate."
            )
        case ApprovalDecision(approved=False, user=user, reason=reason):
            because = f": {reason}" if reason else "."
            return done(f"Rejected by <@{user}>, so nothing was rolled back{because}")
        case RequestExpired():
            return done("Nobody decided in time, so nothing was rolled back.")
        case HumanResponse(user=user, text=text) if answers_escalation(thread, last):
            return _after_oncall(thread, user, text)
        case Error(message=message) if _prefetched(thread):
            return done(f"I couldn't finish: {message}")
        # A failed pre-fetch is no reason not to page: the summary says what is unknown.
        case _:
            return _first_step(thread)


def _prefetched(thread: Thread) -> bool:
    return result(thread, "list_recent_deploys") is not None and any(
        e for e in thread.events if isinstance(e, ToolResult) and e.intent == "list_open_incidents"
    )


def _service(thread: Thread) -> str | None:
    text = clean(latest_request(thread).text)
    if found := _AFFECTED.match(text):
        return found["service"].lower()
    for question, answer in answers(thread):
        if question == WHICH_SERVICE and answer.strip():
            return answer.strip().split()[0].lower()
    deployed = {str(d.get("service")) for d in _deploys(thread)}
    return next((word for word in text.lower().split() if word in deployed), None)


def _deploys(thread: Thread) -> list[dict[str, Any]]:
    out = result(thread, "list_recent_deploys") or {}
    deploys = out.get("deploys")
    return [d for d in deploys if isinstance(d, dict)] if isinstance(deploys, list) else []


def _incidents(thread: Thread) -> list[dict[str, Any]]:
    out = result(thread, "list_open_incidents") or {}
    found = out.get("incidents")
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def _suspect(thread: Thread, service: str) -> dict[str, Any] | None:
    """The latest production deploy of `service` that has a version to go back to."""
    return next(
        (
            d
            for d in _deploys(thread)
            if d.get("service") == service
            and d.get("environment") == "production"
            and d.get("previous_version")
        ),
        None,
    )


def _first_step(thread: Thread) -> str:
    service = _service(thread)
    if service is None:
        options = sorted({str(d.get("service")) for d in _deploys(thread)})[:5]
        return call("request_input", question=WHICH_SERVICE, options=options)
    request = latest_request(thread)
    lines = [f"<@{request.user}> reports: {clean(request.text)}"]
    ours = [d for d in _deploys(thread) if d.get("service") == service]
    if ours:
        lines.append(
            f"Recent deploys of {service}: "
            + "; ".join(
                f"{d.get('version')} to {d.get('environment')} at {str(d.get('at'))[:16]}"
                for d in ours[:3]
            )
        )
    else:
        lines.append(f"No deploys of {service} in the last day.")
    incidents = _incidents(thread)
    listed = "; ".join(f"{i.get('id')} {i.get('title')}" for i in incidents) or "none"
    if result(thread, "list_open_incidents") is None:
        listed = "could not be fetched"
    lines.append(f"Open incidents: {listed}")
    suspect = _suspect(thread, service)
    if suspect is not None:
        lines.append(
            f"Suggest rolling {service} back to {suspect['previous_version']}: take this and "
            "reply `rollback` to propose it (it needs approval)."
        )
    return call("escalate", reason="\n".join(lines), urgency="high")


def _after_oncall(thread: Thread, user: str, text: str) -> str:
    service = _service(thread)
    suspect = _suspect(thread, service) if service else None
    if not _ROLLBACK.search(text) or suspect is None:
        return done(f"Thanks <@{user}>, it's yours from here. Your note: {text}")
    rollback = {
        "intent": "rollback",
        "service": service,
        "environment": "production",
        "to_version": suspect["previous_version"],
        "reason": f"incident: {clean(latest_request(thread).text)}"[:300],
    }
    summary = f"Roll back {service} in production to {suspect['previous_version']} (incident)"
    return call("request_approval", action=rollback, summary=summary)


AGENT = Agent(
    name="incident",
    prompt_path=Path(__file__).with_name("incident.md"),
    tools=(ListRecentDeploys, ListOpenIncidents, Rollback),
    families=(DEPLOY_TOOLS, INCIDENT_TOOLS),
    max_steps=10,
    prefetch=("list_recent_deploys", "list_open_incidents"),
    description="something is broken (errors, an outage): page on-call, maybe roll back",
    example="checkout is returning 500s",
    keywords=re.compile(
        r"\b(5\d\ds?|5xxs?|errors?|down|outage|incident|failing|broken|timing out|timeouts?|"
        r"slow|latency|crash(es|ing)?|on-?call)\b",
        re.I,
    ),
    plan=plan_incident,
)
