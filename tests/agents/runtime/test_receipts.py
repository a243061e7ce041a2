"""Approval receipts: the signed format (agents/runtime/receipts.py) and the standard-library
verifier an executor runs (tools/receipt_verify.py)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.runtime.events import (
    ApprovalDecision,
    Event,
    Terms,
    ToolCall,
    UserMessage,
    call_hash,
)
from agents.runtime.policy import Policy, Rule
from agents.runtime.receipts import ReceiptSigner, approved_requests, decode, describe
from agents.runtime.thread import Thread
from bot.settings import Settings
from tools.receipt_verify import ReceiptError, arguments_hash, verify

SECRET = "receipt-secret-0123"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ACTION = {"intent": "deploy", "service": "api", "version": "1.4.2", "environment": "production"}
ARGUMENTS = {k: v for k, v in ACTION.items() if k != "intent"}


def approval(*, quorum: int = 1) -> ToolCall:
    return ToolCall(
        at=T0,
        call_id="c1",
        intent="request_approval",
        arguments={"action": ACTION, "summary": "Deploy api 1.4.2 to production"},
        source="policy",
        terms=Terms(quorum=quorum, deadline=T0 + timedelta(hours=1)),
    )


def approve(user: str, *, minutes: int = 1, **extra: Any) -> ApprovalDecision:
    return ApprovalDecision(
        at=T0 + timedelta(minutes=minutes),
        call_id="c1",
        approved=True,
        user=user,
        action_hash=call_hash(ACTION),
        **extra,
    )


def thread(*events: Event, quorum: int = 1) -> Thread:
    opening = UserMessage(at=T0, user="U0ALICE", text="deploy api 1.4.2 to production")
    return Thread(
        id="t1",
        agent="deploy",
        requester="U0ALICE",
        events=[opening, approval(quorum=quorum), *events],
    )


def receipt(t: Thread, policy: Policy | None = None) -> str:
    made = ReceiptSigner(SECRET).receipt(t, "c1", policy=policy or Policy())
    assert made is not None
    return made


NOW = (T0 + timedelta(minutes=2)).timestamp()


def test_a_receipt_verifies_and_says_who_approved_what_until_when() -> None:
    claims = verify(receipt(thread(approve("U0BOB"))), SECRET, "deploy", ARGUMENTS, now=NOW)
    decided = int((T0 + timedelta(minutes=1)).timestamp())
    assert claims == {
        "v": 1,
        "action": "deploy",
        "args_sha256": call_hash(ACTION),
        "deciders": ["U0BOB"],
        "rule": "default",
        "quorum": 1,
        "break_glass": False,
        "decided_at": decided,
        "expires_at": decided + 900,
        "thread": "t1",
        "call": "c1",
    }


def test_the_executors_hash_is_the_hash_the_approval_is_bound_to() -> None:
    assert arguments_hash("deploy", ARGUMENTS) == call_hash(ACTION)


@pytest.mark.parametrize(
    "arguments",
    [
        {**ARGUMENTS, "version": "1.4.3"},
        {**ARGUMENTS, "environment": "staging"},
        {**ARGUMENTS, "force": True},
        {"service": "api", "version": "1.4.2"},
    ],
)
def test_any_change_to_the_arguments_is_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ReceiptError, match="arguments differ"):
        verify(receipt(thread(approve("U0BOB"))), SECRET, "deploy", arguments, now=NOW)


def test_another_action_is_refused() -> None:
    with pytest.raises(ReceiptError, match="approves 'deploy', not 'rollback'"):
        verify(receipt(thread(approve("U0BOB"))), SECRET, "rollback", ARGUMENTS, now=NOW)


def test_an_expired_receipt_is_refused() -> None:
    made = receipt(thread(approve("U0BOB")))
    expires = (T0 + timedelta(minutes=16)).timestamp()
    assert verify(made, SECRET, "deploy", ARGUMENTS, now=expires - 1)
    with pytest.raises(ReceiptError, match="expired"):
        verify(made, SECRET, "deploy", ARGUMENTS, now=expires)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(ReceiptError, match="signature"):
        verify(receipt(thread(approve("U0BOB"))), "other", "deploy", ARGUMENTS, now=NOW)


def test_a_tampered_payload_is_refused() -> None:
    payload, _, signature = receipt(thread(approve("U0BOB"))).partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["expires_at"] += 86_400
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(ReceiptError, match="signature"):
        verify(f"{forged}.{signature}", SECRET, "deploy", ARGUMENTS, now=NOW)
    with pytest.raises(ReceiptError, match="signature"):
        verify(payload, SECRET, "deploy", ARGUMENTS, now=NOW)


def test_a_quorum_names_every_approver_who_counted_and_the_rule() -> None:
    policy = Policy(
        rules=(
            Rule(tool="deploy", when={"service": "docs"}, gated=False),
            Rule(tool="deploy", when={"environment": "production"}, quorum=2),
        )
    )
    t = thread(approve("U0BOB"), approve("U0CAROL", minutes=3), quorum=2)
    claims = decode(receipt(t, policy))
    assert claims is not None
    assert claims["deciders"] == ["U0BOB", "U0CAROL"]
    assert claims["rule"] == "rules[1]:deploy" and claims["quorum"] == 2
    assert claims["decided_at"] == int((T0 + timedelta(minutes=3)).timestamp())


def test_an_edited_approval_binds_the_edited_arguments() -> None:
    edited = {**ACTION, "version": "1.4.3"}
    made = receipt(thread(approve("U0BOB", edited_action=edited)))
    assert verify(made, SECRET, "deploy", {**ARGUMENTS, "version": "1.4.3"}, now=NOW)
    with pytest.raises(ReceiptError, match="arguments differ"):
        verify(made, SECRET, "deploy", ARGUMENTS, now=NOW)


def test_break_glass_is_flagged() -> None:
    made = receipt(thread(approve("U0ALICE", break_glass=True, reason="site down")))
    claims = verify(made, SECRET, "deploy", ARGUMENTS, now=NOW)
    assert claims["break_glass"] is True and claims["deciders"] == ["U0ALICE"]
    assert "BREAK-GLASS" in describe(made)


def test_only_an_approved_request_has_a_receipt() -> None:
    signer = ReceiptSigner(SECRET)
    waiting = thread()
    rejected = thread(approve("U0BOB").model_copy(update={"approved": False}))
    half = thread(approve("U0BOB"), quorum=2)
    for t in (waiting, rejected, half):
        assert signer.receipt(t, "c1", policy=Policy()) is None
        assert approved_requests(t) == []
    assert signer.receipt(thread(approve("U0BOB")), "c0", policy=Policy()) is None
    assert approved_requests(thread(approve("U0BOB"))) == ["c1"]


def test_no_secret_no_signer_and_the_validity_is_a_setting() -> None:
    assert Settings(hitl_receipt_secret=None).receipt_signer() is None
    signer = Settings(hitl_receipt_secret=SECRET, hitl_receipt_validity=60).receipt_signer()
    assert signer == ReceiptSigner(SECRET, validity=timedelta(seconds=60))
    assert "hitl_receipt_secret" not in repr(Settings(hitl_receipt_secret=SECRET))
