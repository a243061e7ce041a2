"""Block Kit for the messages and modals of human requests, built with slack_sdk's models so
Slack's limits (text lengths, block counts) are checked before anything is sent."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from agents.events import ToolCall, call_hash
from agents.thread import Outcome, Thread
from bot import messages
from bot.payloads import RequestRef

APPROVE_ACTION = "hitl_approve"
REJECT_ACTION = "hitl_reject"
EDIT_ACTION = "hitl_edit"
ANSWER_ACTION = "hitl_answer"
TAKE_ACTION = "hitl_take"
REJECT_VIEW = "hitl_reject_reason"
EDIT_VIEW = "hitl_edit"
REASON_BLOCK = "reason"

Blocks = list[dict[str, Any]]


def _dicts(blocks: list[Block]) -> Blocks:
    return [block.to_dict() for block in blocks]


def _context(*lines: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=line) for line in lines if line])


def ref_for(thread_id: str, call: ToolCall, *, answer: str | None = None) -> RequestRef:
    action_hash = call_hash(call.action) if "action" in call.arguments else ""
    return RequestRef(
        thread_id=thread_id, call_id=call.call_id, action_hash=action_hash, answer=answer
    )


def _details(call: ToolCall) -> list[Block]:
    fields = [
        MarkdownTextObject(text=f"*{messages.label(name)}*\n{value}")
        for name, value in call.action.items()
        if name != "intent"
    ][:10]
    return [
        HeaderBlock(text=messages.APPROVAL_HEADER),
        SectionBlock(text=MarkdownTextObject(text=f"*{call.arguments['summary']}*"), fields=fields),
    ]


def approval(thread: Thread, call: ToolCall) -> Blocks:
    """An open approval request: what will run, the terms, votes so far, and the buttons."""
    assert call.terms is not None
    value = ref_for(thread.id, call).encode()
    buttons = [
        ButtonElement(
            text=messages.APPROVE,
            action_id=APPROVE_ACTION,
            value=value,
            style="primary",
            confirm=ConfirmObject(
                title=messages.CONFIRM_TITLE,
                text=messages.confirm_approval(call.arguments["summary"]),
                confirm=messages.APPROVE,
                deny=messages.CANCEL,
            ),
        )
    ]
    if call.terms.editable:
        buttons.append(ButtonElement(text=messages.EDIT, action_id=EDIT_ACTION, value=value))
    buttons.append(
        ButtonElement(text=messages.REJECT, action_id=REJECT_ACTION, value=value, style="danger")
    )
    votes = [
        messages.approval_vote(a.user, len(thread.approvals(call.call_id)), call.terms.quorum)
        for a in thread.approvals(call.call_id)[-1:]
    ]
    return _dicts(
        [
            *_details(call),
            _context(messages.request_terms(thread.requester, call.terms), *votes),
            ActionsBlock(block_id=f"approval:{call.call_id}", elements=buttons),
        ]
    )


def decided(thread: Thread, call: ToolCall, outcome: Outcome) -> Blocks:
    """A settled approval request: no buttons; who decided, when, and any edit."""
    lines = [messages.outcome(outcome)]
    edited = thread.approved_action(call)
    if outcome.kind == "approved" and edited != call.action:
        lines.append(messages.edited(outcome.by or "", call.action, edited))
    return _dicts([*_details(call), _context(*lines)])


def question(thread: Thread, call: ToolCall, outcome: Outcome | None) -> Blocks:
    """A question; its answer buttons while open, who answered once settled."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=messages.question(call.arguments["question"])))
    ]
    options: list[str] = call.arguments.get("options") or []
    if outcome is not None:
        blocks.append(_context(messages.outcome(outcome)))
    elif options:
        blocks.append(
            ActionsBlock(
                block_id=f"question:{call.call_id}",
                elements=[
                    ButtonElement(
                        text=option,
                        action_id=f"{ANSWER_ACTION}:{i}",
                        value=ref_for(thread.id, call, answer=option).encode(),
                    )
                    for i, option in enumerate(options)
                ],
            )
        )
        blocks.append(_context(messages.ANSWER_HINT))
    else:
        blocks.append(_context(messages.REPLY_HINT))
    return _dicts(blocks)


def escalation(
    thread: Thread, call: ToolCall, *, link: str, taken_by: str | None, outcome: Outcome | None
) -> Blocks:
    """The escalation posted for on-call: why, where, who is paged, and "Take it"."""
    assert call.terms is not None
    blocks: list[Block] = [
        HeaderBlock(text=messages.escalation_header(call.arguments.get("urgency", "high"))),
        SectionBlock(text=MarkdownTextObject(text=call.arguments["reason"])),
        _context(messages.escalation_context(thread.requester, link, call.terms)),
    ]
    if outcome is not None:
        blocks.append(_context(messages.outcome(outcome)))
    elif taken_by is not None:
        blocks.append(_context(messages.taken_by(taken_by)))
    else:
        button = ButtonElement(
            text=messages.TAKE_IT,
            action_id=TAKE_ACTION,
            value=ref_for(thread.id, call).encode(),
            style="primary",
        )
        blocks.append(ActionsBlock(block_id=f"escalation:{call.call_id}", elements=[button]))
    return _dicts(blocks)


def reject_modal(ref: RequestRef, summary: str) -> dict[str, Any]:
    """Reject asks why: the reason is required and reaches the agent."""
    return View(
        type="modal",
        callback_id=REJECT_VIEW,
        private_metadata=ref.encode(),
        title=messages.REJECT_TITLE,
        submit=messages.REJECT,
        close=messages.CANCEL,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"*{summary}*")),
            InputBlock(
                block_id=REASON_BLOCK,
                label=messages.REASON_LABEL,
                hint=messages.REASON_HINT,
                element=PlainTextInputElement(
                    action_id=REASON_BLOCK, multiline=True, max_length=500
                ),
            ),
        ],
    ).to_dict()


def edit_modal(ref: RequestRef, call: ToolCall, schema: dict[str, Any]) -> dict[str, Any]:
    """Edit-then-approve: the action's arguments as typed fields, prefilled."""
    blocks: list[Block] = []
    for name, value in call.action.items():
        spec = schema.get("properties", {}).get(name, {})
        if name == "intent" or not spec:
            continue
        blocks.append(
            InputBlock(
                block_id=name,
                label=messages.label(name),
                hint=spec.get("description"),
                element=_field(name, spec, value),
            )
        )
    return View(
        type="modal",
        callback_id=EDIT_VIEW,
        private_metadata=ref.encode(),
        title=messages.EDIT_TITLE,
        submit=messages.EDIT_SUBMIT,
        close=messages.CANCEL,
        blocks=blocks,
    ).to_dict()


def _field(
    name: str, spec: dict[str, Any], value: Any
) -> StaticSelectElement | PlainTextInputElement:
    choices = spec.get("enum")
    if choices:
        options = [Option(text=str(c), value=str(c)) for c in choices]
        initial = next((o for o in options if o.value == str(value)), None)
        return StaticSelectElement(action_id=name, options=options, initial_option=initial)
    return PlainTextInputElement(action_id=name, initial_value=str(value))
