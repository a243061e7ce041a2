"""Signed approval receipts: proof, for whoever executes an approved call, that people approved
exactly this call, under which rule, and until when.

A receipt is compact text, `<payload>.<signature>`:

  payload   = base64url(canonical JSON of the claims), no padding
  signature = base64url(HMAC-SHA256(key=HITL_RECEIPT_SECRET, msg=<payload> as ASCII)), no padding

Canonical JSON is `json.dumps(claims, sort_keys=True, separators=(",", ":"))` (ASCII only).
The claims (version 1):

  v            1
  action       the tool that runs, e.g. "deploy"; for a request of the requests API, the
               `action.name` its caller gave
  args_sha256  hex SHA-256 of the canonical JSON of {"intent": action, **arguments}, the call
               as finally approved (an approver's edit included); for our own tools the same
               hash the approval itself is bound to (`agents/runtime/events.py::call_hash`), for
               an API request the hash of its `action.name` and final `arguments`
  deciders     the user IDs whose approvals counted, in order
  rule         the policy rule that set the terms: "rules[<index>]:<tool>", or "default"
  quorum       how many distinct approvals the request needed
  break_glass  true when the requester approved their own call with a reason
  decided_at   unix seconds when the request was approved
  expires_at   decided_at + HITL_RECEIPT_VALIDITY (seconds, default 900)
  thread       the thread id; call: the request's call id (together they name the approval)

An executor recomputes the signature and the hash from the arguments it received and refuses
the call when either differs or the receipt has expired: `tools/receipt_verify.py` does that in
standard-library Python. With no HITL_RECEIPT_SECRET set, no receipt is made (and none sent)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.runtime.events import APPROVAL, ToolCall, call_hash
from agents.runtime.policy import Policy
from agents.runtime.thread import Thread
from tools.external import EXTERNAL_INTENT

VERSION = 1
DEFAULT_VALIDITY = timedelta(minutes=15)


@dataclass(frozen=True)
class ReceiptSigner:
    """Signs receipts with `secret` (HITL_RECEIPT_SECRET); each is valid for `validity` after
    the decision."""

    secret: str
    validity: timedelta = DEFAULT_VALIDITY

    def receipt(self, thread: Thread, call_id: str, *, policy: Policy) -> str | None:
        """The signed receipt of approved request `call_id`, or None when it is not approved."""
        found = claims(thread, call_id, policy=policy, validity=self.validity)
        return None if found is None else sign(found, self.secret)


def claims(
    thread: Thread, call_id: str, *, policy: Policy, validity: timedelta
) -> dict[str, Any] | None:
    """What the receipt of request `call_id` says, or None unless it is an approved approval."""
    request = thread.call(call_id)
    if request is None or request.intent != APPROVAL:
        return None
    outcome = thread.outcome(request)
    if outcome is None or outcome.kind != "approved":
        return None
    name, arguments = executed(thread.approved_action(request))
    quorum = request.terms.quorum if request.terms else 1
    if outcome.break_glass:
        deciders = [outcome.by or ""]
    else:
        deciders = [a.user for a in thread.approvals(call_id)][:quorum]
    return {
        "v": VERSION,
        "action": name,
        "args_sha256": call_hash({"intent": name, **arguments}),
        "deciders": deciders,
        "rule": rule_name(request, policy),
        "quorum": quorum,
        "break_glass": outcome.break_glass,
        "decided_at": _seconds(outcome.at),
        "expires_at": _seconds(outcome.at + validity),
        "thread": thread.id,
        "call": call_id,
    }


def executed(action: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The approved call as its executor runs it: an external action (asked for through the
    requests API) under the name its caller gave, with its arguments; any other tool as called."""
    if action["intent"] == EXTERNAL_INTENT:
        return str(action["name"]), dict(action.get("arguments", {}))
    return str(action["intent"]), {k: v for k, v in action.items() if k != "intent"}


def approved_requests(thread: Thread) -> list[str]:
    """The call ids of the thread's approved approval requests, in order."""
    found = []
    for event in thread.events:
        if isinstance(event, ToolCall) and event.intent == APPROVAL:
            outcome = thread.outcome(event)
            if outcome is not None and outcome.kind == "approved":
                found.append(event.call_id)
    return found


def describe(receipt: str) -> str:
    """A receipt's claims in one line, for people (not verified)."""
    found = decode(receipt)
    if found is None:
        return "not a receipt"
    expires = datetime.fromtimestamp(found["expires_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    deciders = ", ".join(found["deciders"])
    glass = " · BREAK-GLASS" if found["break_glass"] else ""
    return (
        f"{found['action']} · args sha256 {found['args_sha256'][:12]} · by {deciders} · "
        f"{found['rule']} · quorum {found['quorum']}{glass} · expires {expires}"
    )


def rule_name(request: ToolCall, policy: Policy) -> str:
    """Which policy rule matched the call as it was asked for (the one that set its terms)."""
    for index, rule in enumerate(policy.rules):
        if rule.matches(request.action):
            return f"rules[{index}]:{rule.tool}"
    return "default"


def canonical(data: dict[str, Any]) -> bytes:
    """The canonical JSON the format signs (and `call_hash` hashes)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def sign(found: dict[str, Any], secret: str) -> str:
    """`found` as a compact signed receipt."""
    payload = _b64(canonical(found))
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return payload + "." + _b64(mac)


def decode(receipt: str) -> dict[str, Any] | None:
    """A receipt's claims, NOT verified (for display); None when it is not one."""
    payload = receipt.partition(".")[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _seconds(at: datetime) -> int:
    return int(at.timestamp())
