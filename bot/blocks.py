"""Block Kit for the messages the bot posts, built with slack_sdk's models so Slack's limits
(text lengths, block counts) are checked before anything is sent."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agents.events import ApprovalDecision, ToolCall, call_hash
from bot import messages
from bot.payloads import ApprovalRef

APPROVE_ACTION = "hitl_approve"
REJECT_ACTION = "hitl_reject"


def _dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def _details(call: ToolCall) -> list[Block]:
    action = call.action
    fields = [
        MarkdownTextObject(text=f"*{name.replace('_', ' ').capitalize()}*\n{value}")
        for name, value in action.items()
        if name != "intent"
    ][:10]
    return [
        HeaderBlock(text=messages.APPROVAL_HEADER),
        SectionBlock(text=MarkdownTextObject(text=f"*{call.arguments['summary']}*"), fields=fields),
    ]


def approval(thread_id: str, requester: str, call: ToolCall) -> list[dict[str, Any]]:
    """The approval request: what will run, who asked, and Approve / Reject buttons."""
    ref = ApprovalRef(thread_id=thread_id, call_id=call.call_id, action_hash=call_hash(call.action))
    buttons = ActionsBlock(
        block_id=f"approval:{call.call_id}",
        elements=[
            ButtonElement(
                text=messages.APPROVE, action_id=APPROVE_ACTION, value=ref.encode(), style="primary"
            ),
            ButtonElement(
                text=messages.REJECT, action_id=REJECT_ACTION, value=ref.encode(), style="danger"
            ),
        ],
    )
    context = ContextBlock(elements=[MarkdownTextObject(text=messages.requested_by(requester))])
    return _dicts([*_details(call), context, buttons])


def decided(call: ToolCall, decision: ApprovalDecision) -> list[dict[str, Any]]:
    """The approval request after its decision: no buttons, who decided and when."""
    outcome = (
        messages.approved_by(decision.user, decision.at)
        if decision.approved
        else messages.rejected_by(decision.user, decision.at, decision.reason)
    )
    return _dicts([*_details(call), ContextBlock(elements=[MarkdownTextObject(text=outcome)])])
