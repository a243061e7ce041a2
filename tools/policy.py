"""Tool policy: which calls need a human's approval, and who may decide. Decided by code, never by
the model's prompt."""

from __future__ import annotations

from collections.abc import Collection

from tools.deploy import Deploy
from tools.types import Tool


def needs_approval(call: Tool) -> bool:
    match call:
        case Deploy(environment="production"):
            return True
        case _:
            return False


def may_approve(user: str, *, requester: str, approvers: Collection[str]) -> bool:
    """Configured approvers (anyone, when none are configured) but never the requester: every
    gated action is high-risk, and nobody approves their own."""
    if user == requester:
        return False
    return not approvers or user in approvers


def may_reject(user: str, *, requester: str, approvers: Collection[str]) -> bool:
    """Rejecting runs nothing, so the requester may withdraw their own request."""
    return user == requester or may_approve(user, requester=requester, approvers=approvers)


def may_answer(user: str, *, requester: str, approvers: Collection[str]) -> bool:
    """Who may answer the agent's questions: the requester and the approvers."""
    return user == requester or user in approvers
