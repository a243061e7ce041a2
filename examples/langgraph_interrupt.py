"""A LangGraph graph that asks a person in Slack before its risky step.

The node calls `interrupt()` with what it is about to do; the driver below turns the interrupt
into a slack-hitl approval request, waits for the decision, and resumes the graph with
`Command(resume=decision)`. The node then acts only if a person approved.

    HITL_URL=http://localhost:3000 HITL_TOKEN=... HITL_CHANNEL=C0123456 \
        python examples/langgraph_interrupt.py"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any, TypedDict

import httpx
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class State(TypedDict):
    service: str
    outcome: str


def restart_service(state: State) -> dict[str, str]:
    # On resume LangGraph runs this node again from its top, so nothing with a side effect may
    # come before interrupt(): the second time, interrupt() returns the decision instead.
    decision = interrupt(
        {
            "summary": f"Restart {state['service']} in production",
            "action": {"name": "restart_service", "arguments": {"service": state["service"]}},
        }
    )
    if decision["status"] != "approved":
        return {"outcome": f"not restarted ({decision['status']})"}
    print(f"ACTION: restarting {state['service']}", flush=True)  # the risky step itself
    approvers = ", ".join(d["user"] for d in decision["decisions"])
    return {"outcome": f"restarted, approved by {approvers}"}


def ask_in_slack(question: dict[str, Any], *, key: str) -> dict[str, Any]:
    """Create the request from the interrupt's value and long-poll until it is decided."""
    headers = {"Authorization": f"Bearer {os.environ['HITL_TOKEN']}"}
    base = f"{os.environ['HITL_URL']}/api"
    body = {"kind": "approval", "channel": os.environ["HITL_CHANNEL"], "idempotency_key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=45) as api:
        request = api.post("/requests", json=body | question).raise_for_status().json()
        print(f"asked in Slack: request {request['id']}", flush=True)
        while request["status"] == "waiting":
            polled = api.get(f"/requests/{request['id']}", params={"wait": 30})
            request = polled.raise_for_status().json()
    return dict(request)


def main() -> int:
    builder = StateGraph(State)
    builder.add_node("restart_service", restart_service)
    builder.add_edge(START, "restart_service")
    builder.add_edge("restart_service", END)
    graph = builder.compile(checkpointer=InMemorySaver())  # interrupts need a checkpointer

    thread = str(uuid.uuid4())
    config: Any = {"configurable": {"thread_id": thread}}
    result = graph.invoke({"service": "payments", "outcome": ""}, config)
    while "__interrupt__" in result:
        (pending,) = result["__interrupt__"]
        # Keyed by the interrupt, a restarted driver (with a durable checkpointer) asks once.
        decision = ask_in_slack(pending.value, key=f"langgraph/{thread}/{pending.id}")
        result = graph.invoke(Command(resume=decision), config)
    print(result["outcome"])
    return 0 if result["outcome"].startswith("restarted") else 1


if __name__ == "__main__":
    sys.exit(main())
