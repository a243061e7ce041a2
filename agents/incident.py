"""The incident micro-agent: recent deploys and open incidents are fetched by code before the
model's first step; it pages on-call with a summary and may propose a (gated) rollback.

Its offline planner (LLM_PROVIDER=offline) takes any service named in free text ("the checkout
service is down", "checkout is throwing 500s", "payments latency is high", "errors on search")
and asks which service otherwise: it escalates with what the pre-fetched deploys and incidents
show, and "rollback" in on-call's reply proposes a rollback (the README documents it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agents.runtime.agent import Agent
from agents.runtime.events import ApprovalDecision, Error, HumanResponse, RequestExpired, ToolResult
from agents.runtime.phrasing import normalise
from agents.runtime.planning import (
    answers,
    answers_escalation,
    call,
    clean,
    done,
    humane_time,
    latest_request,
    request_text,
    result,
)
from agents.runtime.thread import Thread
from tools.deploy import DEPLOY_TOOLS, ListRecentDeploys, Rollback
from tools.incidents import INCIDENT_TOOLS, ListOpenIncidents

_NAME = r"(?P<service>[a-z0-9][a-z0-9._-]*)"
_KIND = r"(?:service|app|api|server|servers|cluster|backend|frontend)"
_SYMPTOM = (
    r"(?:is|are|was|were|has|have|had|keeps|kept|returns|returning|throws|throwing|seems|looks|"
    r"went|goes|gives|giving|errors?|erroring|latency|5\d\ds?|5xxs?|timeouts?|timing|crash\w*|"
    r"fail\w*|down|outage|slow|broken|not)"
)
# Where people name the broken service: "the checkout service is down", "payments latency is
# high", "500s from the search cluster", "errors on checkout".
_SERVICE_NAMED = (
    re.compile(rf"^(?:the\s+|our\s+)?{_NAME}(?:\s+{_KIND})?\s+{_SYMPTOM}\b", re.I),
    re.compile(rf"\b{_NAME}\s+{_KIND}\b", re.I),
    re.compile(rf"\b(?:on|in|from|for|with|of|at|to)\s+(?:the\s+|our\s+)?{_NAME}", re.I),
)
# Words those patterns also catch that never name a service.
_NOT_SERVICES = frozenset(
    {
        *("the", "a", "an", "our", "my", "your", "their", "it", "its", "this", "that", "these"),
        *("everything", "something", "nothing", "all", "some", "we", "i", "they", "you"),
        *("users", "customers", "people", "requests", "pages", "things", "stuff", "latency"),
        *("errors", "error", "production", "staging", "prod", "stage", "call", "on-call"),
        *("oncall", "site", "app", "service", "server", "there", "here", "today", "now"),
    }
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
    deployed = {str(d.get("service")) for d in _deploys(thread)}
    if service := service_named(request_text(thread), deployed):
        return service
    for question, answer in answers(thread):
        if question == WHICH_SERVICE and (service := _answered_service(answer, deployed)):
            return service
    return None


def service_named(text: str, known: set[str]) -> str | None:
    """The service `text` says is affected: a `known` one named anywhere, else one named where
    people name services ("the checkout service is down", "payments latency is high")."""
    words = [word.strip(".,;:!?()'\"") for word in text.lower().split()]
    if found := next((word for word in words if word in known), None):
        return found
    for pattern in _SERVICE_NAMED:
        for match in pattern.finditer(text):
            if (service := match["service"].lower()) not in _NOT_SERVICES:
                return service
    return None


def _answered_service(answer: str, known: set[str]) -> str | None:
    text = normalise(answer)
    if service := service_named(text, known):
        return service
    words = [w for w in re.findall(r"[a-z0-9][a-z0-9._-]*", text.lower()) if w not in _NOT_SERVICES]
    return words[0] if words else None


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
                f"{d.get('version')} to {d.get('environment')} at {humane_time(d.get('at'))}"
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
