"""The flags micro-agent: turns feature flags on and off, gated in production.

Its offline planner understands:
  turn <flag> on|off in <staging|production>
  flags                                       lists them
"""

from __future__ import annotations

import re
from pathlib import Path

from agents.runtime.agent import Agent
from agents.runtime.events import ApprovalDecision, RequestExpired, ToolResult
from agents.runtime.planning import call, clean, done, latest_request
from agents.runtime.thread import Thread
from tests.examples.flag_tools import FLAG_TOOLS, ListFlags, SetFlag

_SET = re.compile(
    r"^turn\s+(?P<flag>[a-z0-9][a-z0-9-]*)\s+(?P<state>on|off)\s+in\s+(?P<env>staging|production)\W*$",
    re.IGNORECASE,
)


def plan(thread: Thread) -> str:
    """The offline model's next step for this agent: the same JSON tool call a model returns."""
    last = thread.last_step
    match last:
        case ToolResult(intent="set_flag", output=out):
            state = "on" if out["enabled"] else "off"
            return done(f"Turned {out['flag']} {state} in {out['environment']}.")
        case ToolResult(intent="list_flags", output=out):
            listed = ", ".join(f"{k}: {'on' if v else 'off'}" for k, v in out["flags"].items())
            return done(f"Flags: {listed or 'none set yet'}.")
        case ApprovalDecision(approved=False, user=user, reason=reason):
            return done(f"Rejected by <@{user}>, so no flag changed: {reason}")
        case RequestExpired():
            return done("Nobody decided in time, so no flag changed.")
    text = clean(latest_request(thread).text)
    if text.lower().startswith("flags"):
        return call("list_flags")
    found = _SET.match(text)
    if found is None:
        return done("I understand `turn <flag> on|off in <staging|production>` and `flags`.")
    return call(
        "set_flag",
        flag=found["flag"].lower(),
        enabled=found["state"].lower() == "on",
        environment=found["env"].lower(),
    )


AGENT = Agent(
    name="flags",
    prompt_path=Path(__file__).with_name("flags.md"),
    tools=(SetFlag, ListFlags),
    families=(FLAG_TOOLS,),
    max_steps=6,
    description="turn a feature flag on or off, or list the flags",
    example="turn new-checkout on in production",
    keywords=re.compile(r"^(turn\s+\S+\s+(on|off)\b|flags\b)", re.IGNORECASE),
    plan=plan,
)
