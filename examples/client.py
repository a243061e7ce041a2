"""Ask a person in Slack to approve an action, wait for the decision, exit 0 only if approved.

    HITL_URL=http://localhost:3000 HITL_TOKEN=... HITL_CHANNEL=C0123456 python examples/client.py

Set HITL_IDEMPOTENCY_KEY to something stable (a job id) so a retried run asks only once."""

from __future__ import annotations

import os
import sys
import uuid

import httpx

URL, TOKEN, CHANNEL = (os.environ[name] for name in ("HITL_URL", "HITL_TOKEN", "HITL_CHANNEL"))
ASK = {
    "kind": "approval",
    "channel": CHANNEL,
    "summary": "Restart the payments service in production",
    "action": {"name": "restart_service", "arguments": {"service": "payments", "env": "prod"}},
    "idempotency_key": os.environ.get("HITL_IDEMPOTENCY_KEY") or str(uuid.uuid4()),
}

auth = {"Authorization": f"Bearer {TOKEN}"}
with httpx.Client(base_url=f"{URL}/api", headers=auth, timeout=45) as api:
    request = api.post("/requests", json=ASK).raise_for_status().json()
    print(f"asked: request {request['id']}", flush=True)
    while request["status"] == "waiting":  # each GET holds up to 30 s until something changes
        polled = api.get(f"/requests/{request['id']}", params={"wait": 30})
        request = polled.raise_for_status().json()

who = ", ".join(d["user"] for d in request["decisions"]) or "nobody"
reasons = "; ".join(d["reason"] for d in request["decisions"] if d["reason"])
print(f"{request['status']} by {who}" + (f": {reasons}" if reasons else ""))
sys.exit(0 if request["status"] == "approved" else 1)
