"""Block Kit for the messages and modals of human requests, built with slack_sdk's models.

Every text is cut to Slack's limit for its place (`bot/slack/limits.py`), including the limits
slack_sdk does not check, so a card is never refused for its content; `overflow` gives the
follow-up messages that carry in full what a card had to cut.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, cast

from pydantic import BaseModel
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

from agents.runtime.events import APPROVAL, ESCALATION, INPUT, ToolCall, call_hash
from agents.runtime.thread import Outcome, Thread
from bot.slack import limits, messages
from bot.slack.limits import cut
from bot.slack.payloads import RequestRef
from tools.types import Shown, Tool, ToolModel, shown_value

APPROVE_ACTION = "hitl_approve"
REJECT_ACTION = "hitl_reject"
EDIT_ACTION = "hitl_edit"
ANSWER_ACTION = "hitl_answer"
TAKE_ACTION = "hitl_take"
BREAK_GLASS_ACTION = "hitl_break_glass"
ACKNOWLEDGE_ACTION = "hitl_acknowledge"
BREAK_GLASS_VIEW = "hitl_break_glass_reason"
REJECT_VIEW = "hitl_reject_reason"
EDIT_VIEW = "hitl_edit"
REASON_BLOCK = "reason"

Blocks = list[dict[str, Any]]


def _dicts(blocks: list[Block]) -> Blocks:
    return [block.to_dict() for block in blocks]


def _context(*lines: str) -> ContextBlock:
    texts = [cut(line, limits.CONTEXT_TEXT) for line in lines if line]
    return ContextBlock(
        elements=[MarkdownTextObject(text=t) for t in texts][: limits.CONTEXT_ELEMENTS]
    )


def _plain(text: str, limit: int) -> str:
    # plain_text is never parsed for mentions, so it is cut but not escaped.
    return cut(text, limit)


def ref_for(thread_id: str, call: ToolCall, *, answer: str | None = None) -> RequestRef:
    action_hash = call_hash(call.action) if "action" in call.arguments else ""
    return RequestRef(
        thread_id=thread_id, call_id=call.call_id, action_hash=action_hash, answer=answer
    )


def _arguments(call: ToolCall) -> list[tuple[str, Any]]:
    return [(name, value) for name, value in call.action.items() if name != "intent"]


class Described(NamedTuple):
    """A gated call as code renders it: `summary` as mrkdwn, every argument, and `plain`, the
    summary as the tool wrote it (to tell whether the model's summary only repeats it)."""

    summary: str
    fields: list[Shown]
    plain: str


def described(
    call: ToolCall, tool: type[BaseModel] | None, action: dict[str, Any] | None = None
) -> Described:
    """The gated call of approval `call` as code renders it from its exact arguments: the
    tool's summary (mrkdwn: escaped, its user arguments as mentions) and every argument as the
    tool shows it; `action` instead of the call as asked (the call an approver edited). Without
    the tool's model (a tool removed since), a generic line and the stored arguments. Never the
    model's words."""
    action = call.action if action is None else action
    if tool is not None and issubclass(tool, ToolModel):
        # Read back, not validated again: a stored request must render if a limit tightens.
        model = cast(Tool, tool.model_construct(**action))
        try:
            fields = model.fields()
            users = [f.value for f in fields if f.user]
            plain = model.summary()
            return Described(messages.call_summary(plain, users), fields, plain)
        except (AttributeError, TypeError, ValueError):
            pass  # arguments the model no longer has: shown generically below
    arguments = [(name, value) for name, value in action.items() if name != "intent"]
    fields = [Shown(messages.label(name), shown_value(value)) for name, value in arguments]
    generic = messages.unknown_tool_summary(call.action_intent)
    return Described(generic, fields, generic)


def _fields(shown: list[Shown]) -> list[MarkdownTextObject]:
    """The call's arguments, one field each; past the tenth, one field names the rest."""
    visible = shown
    if len(shown) > limits.SECTION_FIELDS:
        visible = shown[: limits.SECTION_FIELDS - 1]
    texts = [messages.shown(field, limits.SECTION_FIELD) for field in visible]
    rest = [field.label for field in shown[len(visible) :]]
    if rest:
        texts.append(messages.more_arguments(rest, limits.SECTION_FIELD))
    return [MarkdownTextObject(text=text) for text in texts]


def _details(
    call: ToolCall,
    tool: type[BaseModel] | None,
    *,
    header: str = messages.APPROVAL_HEADER,
    action: dict[str, Any] | None = None,
) -> list[Block]:
    """Header, the code-rendered call (`action`: as edited) with every argument, and the
    model's summary labelled as the model's words (left out when it only repeats the code's)."""
    summary, fields, plain = described(call, tool, action)
    said = call.approval.summary or ""
    details: list[Block] = [
        HeaderBlock(text=_plain(header, limits.HEADER_TEXT)),
        SectionBlock(
            text=MarkdownTextObject(text=messages.strong(summary, limits.SECTION_TEXT)),
            fields=_fields(fields),
        ),
    ]
    if said.strip() and said.strip() != plain.strip():
        details.append(_context(messages.model_summary(said)))
    return details


def approval_text(call: ToolCall, tool: type[BaseModel] | None = None) -> str:
    """An approval's notification (fallback) text: the code-rendered call."""
    return messages.approval_fallback(described(call, tool).summary)


def approval(thread: Thread, call: ToolCall, tool: type[BaseModel] | None = None) -> Blocks:
    """An open approval request: what will run (rendered from the call by `tool`'s model), the
    terms, votes so far, and the buttons; the confirm dialog states the call, too."""
    assert call.terms is not None
    value = ref_for(thread.id, call).encode()
    summary = described(call, tool).summary
    buttons = [
        ButtonElement(
            text=messages.APPROVE,
            action_id=APPROVE_ACTION,
            value=value,
            style="primary",
            confirm=ConfirmObject(
                title=messages.CONFIRM_TITLE,
                text=messages.confirm_approval(summary),
                confirm=messages.APPROVE,
                deny=messages.CANCEL,
            ),
        )
    ]
    if call.terms.break_glass:
        buttons.append(_break_glass_button(value, summary))
    if call.terms.editable:
        buttons.append(ButtonElement(text=messages.EDIT, action_id=EDIT_ACTION, value=value))
    buttons.append(
        ButtonElement(text=messages.REJECT, action_id=REJECT_ACTION, value=value, style="danger")
    )
    voters = _voters(thread, call)
    votes = [messages.approval_votes(voters, call.terms.quorum)] if voters else []
    return _dicts(
        [
            *_details(call, tool),
            _context(
                messages.request_terms(
                    thread.requester_of(call.call_id), call.terms, thread.relayed_by(call.call_id)
                ),
                *votes,
            ),
            ActionsBlock(block_id=f"approval:{call.call_id}", elements=buttons),
        ]
    )


def _voters(thread: Thread, call: ToolCall) -> list[tuple[str, str | None]]:
    """Everyone who approved `call` so far, in order, with the API token that relayed it."""
    return [(a.user, a.via) for a in thread.approvals(call.call_id)]


def decided_text(
    thread: Thread, call: ToolCall, outcome: Outcome, tool: type[BaseModel] | None = None
) -> str:
    """A settled approval's fallback text: how it ended and the call that ran (as edited)."""
    return messages.settled_fallback(
        outcome, described(call, tool, _shown_action(thread, call, outcome)).summary
    )


def _shown_action(thread: Thread, call: ToolCall, outcome: Outcome) -> dict[str, Any]:
    """The call a settled card shows: the one that ran, so an edit shows its new arguments."""
    return thread.approved_action(call) if outcome.kind == "approved" else call.action


def decided(
    thread: Thread, call: ToolCall, outcome: Outcome, tool: type[BaseModel] | None = None
) -> Blocks:
    """A settled approval request: its header says how it ended; no buttons; every approver
    (a quorum's too), when, and any edit, whose arguments the card then shows."""
    lines = [messages.outcome(outcome)]
    voters = _voters(thread, call)
    if outcome.kind == "approved" and len(voters) > 1:
        lines = [messages.approved_by_all(voters, outcome.at)]
    shown = _shown_action(thread, call, outcome)
    if shown != call.action:
        lines.append(messages.edited(outcome.by or "", call.action, shown))
    header = messages.settled_header(outcome)
    return _dicts([*_details(call, tool, header=header, action=shown), _context(*lines)])


def question(thread: Thread, call: ToolCall, outcome: Outcome | None) -> Blocks:
    """A question; its answer buttons while open, who answered once settled."""
    asked = call.input_request
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=messages.question(asked.question)))
    ]
    options = asked.options or []
    if outcome is not None:
        blocks.append(_context(messages.outcome(outcome)))
    elif options:
        blocks += _answer_buttons(thread, call, options)
        hidden = len(options) - MAX_ANSWER_BUTTONS
        hints = [messages.more_options(hidden)] if hidden > 0 else []
        blocks.append(_context(messages.ANSWER_HINT, *hints))
    else:
        blocks.append(_context(messages.REPLY_HINT))
    return _dicts(blocks)


# Four rows of buttons: a question card stays short, and far below 50 blocks.
MAX_ANSWER_BUTTONS = 4 * limits.ACTIONS_ELEMENTS


def _answer_value(thread: Thread, call: ToolCall, option: str) -> str:
    """The button's value: the request and the answer, the answer cut if it must be."""
    answer, value = option, ref_for(thread.id, call, answer=option).encode()
    while len(value) > limits.BUTTON_VALUE and len(answer) > 1:
        # JSON escapes can make the value longer than the answer: cut by the excess.
        answer = cut(answer, len(answer) - (len(value) - limits.BUTTON_VALUE))
        value = ref_for(thread.id, call, answer=answer).encode()
    return value


def _answer_buttons(thread: Thread, call: ToolCall, options: list[str]) -> list[Block]:
    buttons = [
        ButtonElement(
            text=_plain(option.strip() or messages.NO_TEXT, limits.BUTTON_TEXT),
            action_id=f"{ANSWER_ACTION}:{i}",
            value=_answer_value(thread, call, option),
        )
        for i, option in enumerate(options[:MAX_ANSWER_BUTTONS])
    ]
    row = limits.ACTIONS_ELEMENTS
    return [
        ActionsBlock(
            block_id=f"question:{call.call_id}" + (f":{start // row}" if start else ""),
            elements=buttons[start : start + row],
        )
        for start in range(0, len(buttons), row)
    ]


def escalation(
    thread: Thread, call: ToolCall, *, link: str, taken_by: str | None, outcome: Outcome | None
) -> Blocks:
    """The escalation posted for on-call: why, where, who is paged, and "Take it"."""
    assert call.terms is not None
    paged = call.escalation
    blocks: list[Block] = [
        HeaderBlock(
            text=_plain(
                messages.escalation_header(paged.urgency),
                limits.HEADER_TEXT,
            )
        ),
        SectionBlock(text=MarkdownTextObject(text=messages.reason(paged.reason))),
        _context(messages.escalation_context(thread.requester_of(call.call_id), link, call.terms)),
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


def reject_modal(
    ref: RequestRef,
    call: ToolCall,
    tool: type[BaseModel] | None = None,
    *,
    external_id: str | None = None,
) -> dict[str, Any]:
    """Reject asks why: the reason is required and reaches the agent. It names the call as
    code renders it. `external_id` names the view, so its submission can be matched to the
    one the bot opened."""
    return _reason_modal(
        ref,
        described(call, tool).summary,
        callback_id=REJECT_VIEW,
        title=messages.REJECT_TITLE,
        submit=messages.REJECT,
        label=messages.REASON_LABEL,
        hint=messages.REASON_HINT,
        external_id=external_id,
    )


def _reason_modal(
    ref: RequestRef,
    summary: str,
    *,
    callback_id: str,
    title: str,
    submit: str,
    label: str,
    hint: str,
    external_id: str | None,
    min_length: int | None = None,
) -> dict[str, Any]:
    """A form naming the call and asking for a required reason (Reject, Break glass)."""
    return View(
        type="modal",
        callback_id=callback_id,
        external_id=external_id,
        private_metadata=ref.encode(),
        title=title,
        submit=submit,
        close=messages.CANCEL,
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=messages.strong(summary, limits.SECTION_TEXT))
            ),
            InputBlock(
                block_id=REASON_BLOCK,
                label=label,
                hint=hint,
                element=PlainTextInputElement(
                    action_id=REASON_BLOCK,
                    multiline=True,
                    min_length=min_length,
                    max_length=500,
                ),
            ),
        ],
    ).to_dict()


def edit_modal(
    ref: RequestRef, call: ToolCall, schema: dict[str, Any], *, external_id: str | None = None
) -> dict[str, Any]:
    """Edit-then-approve: the action's arguments as typed fields, prefilled (`external_id`:
    as for `reject_modal`)."""
    blocks: list[Block] = []
    for name, value in _arguments(call):
        spec = schema.get("properties", {}).get(name, {})
        # A readOnly argument (what the call is, who gains) is not the approver's to change.
        element = _field(name, spec, value) if spec and not spec.get("readOnly") else None
        if element is None:
            continue
        hint = spec.get("description")
        blocks.append(
            InputBlock(
                block_id=name,
                label=_plain(messages.label(name), limits.INPUT_LABEL),
                hint=_plain(hint, limits.INPUT_HINT) if hint else None,
                element=element,
            )
        )
    if not blocks:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=messages.NOTHING_TO_EDIT)))
    return View(
        type="modal",
        callback_id=EDIT_VIEW,
        external_id=external_id,
        private_metadata=ref.encode(),
        title=messages.EDIT_TITLE,
        submit=messages.EDIT_SUBMIT,
        close=messages.CANCEL,
        blocks=blocks[: limits.VIEW_BLOCKS],
    ).to_dict()


def _field(
    name: str, spec: dict[str, Any], value: Any
) -> StaticSelectElement | PlainTextInputElement | None:
    """The input for one argument, prefilled; None when its value or choices cannot be shown
    whole (a cut value would be submitted cut): that argument then keeps its value."""
    choices = [str(c) for c in spec.get("enum") or []]
    if choices:
        if len(choices) > limits.SELECT_OPTIONS or any(
            len(c) > limits.OPTION_VALUE for c in choices
        ):
            return None
        options = [Option(text=_plain(c, limits.OPTION_TEXT), value=c) for c in choices]
        initial = next((o for o in options if o.value == str(value)), None)
        return StaticSelectElement(action_id=name, options=options, initial_option=initial)
    if len(str(value)) > limits.PLAIN_TEXT_INPUT_VALUE:
        return None
    return PlainTextInputElement(action_id=name, initial_value=str(value))


def overflow(call: ToolCall) -> list[str]:
    """Follow-up messages that carry in full each text the card for `call` had to cut or
    leave out (summary, arguments, question, answers, reason); [] when it shows everything."""
    full: list[tuple[str, str]] = []
    args = call.arguments
    if call.intent == APPROVAL:
        if _was_cut(partial(messages.model_summary, args["summary"]), limits.CONTEXT_TEXT):
            full.append(("summary", args["summary"]))
        full += _cut_arguments(call)
    elif call.intent == INPUT:
        if _was_cut(partial(messages.question, args["question"]), limits.SECTION_TEXT):
            full.append(("question", args["question"]))
        options: list[str] = args.get("options") or []
        if len(options) > MAX_ANSWER_BUTTONS or any(len(o) > limits.BUTTON_TEXT for o in options):
            full.append(("answers", "\n".join(f"• {o}" for o in options)))
    elif call.intent == ESCALATION and _was_cut(
        partial(messages.reason, args["reason"]), limits.SECTION_TEXT
    ):
        full.append(("reason", args["reason"]))
    return [text for name, value in full for text in messages.full_text(name, value)]


def _was_cut(render: Callable[[int], str], limit: int) -> bool:
    """Whether `render(limit)` shows less than the text rendered without a limit."""
    return render(limit) != render(sys.maxsize)


def _cut_arguments(call: ToolCall) -> list[tuple[str, str]]:
    arguments = _arguments(call)
    hidden_from = limits.SECTION_FIELDS - 1 if len(arguments) > limits.SECTION_FIELDS else None
    return [
        (messages.label(name).lower(), str(value))
        for i, (name, value) in enumerate(arguments)
        if (hidden_from is not None and i >= hidden_from)
        or _was_cut(partial(messages.argument, name, value), limits.SECTION_FIELD)
    ]


def plain(text: str, rendered: Blocks | None) -> Blocks:
    """What is left of a message Slack refused: its text, cut to fit, and its buttons without
    their confirm dialogs, so a person can still act on it."""
    section = {"type": "section", "text": {"type": "mrkdwn", "text": limits.cut(text, 2900)}}
    actions = []
    for block in rendered or []:
        if block.get("type") == "actions":
            elements = [{k: v for k, v in e.items() if k != "confirm"} for e in block["elements"]]
            actions.append({**block, "elements": elements})
    return [section, *actions]


# Break-glass


def _break_glass_button(value: str, summary: str) -> ButtonElement:
    return ButtonElement(
        text=messages.BREAK_GLASS,
        action_id=BREAK_GLASS_ACTION,
        value=value,
        style="danger",
        confirm=ConfirmObject(
            title=messages.BREAK_GLASS_CONFIRM_TITLE,
            text=messages.confirm_break_glass(summary),
            confirm=messages.BREAK_GLASS,
            deny=messages.CANCEL,
            style="danger",
        ),
    )


def break_glass_modal(
    ref: RequestRef,
    call: ToolCall,
    tool: type[BaseModel] | None = None,
    *,
    external_id: str | None = None,
) -> dict[str, Any]:
    """Break glass asks the requester why; the reason is required (a few words at least) and
    goes to the approvers. Bound like the Reject form (`external_id`)."""
    return _reason_modal(
        ref,
        described(call, tool).summary,
        callback_id=BREAK_GLASS_VIEW,
        title=messages.BREAK_GLASS_TITLE,
        submit=messages.BREAK_GLASS_SUBMIT,
        label=messages.BREAK_GLASS_REASON_LABEL,
        hint=messages.BREAK_GLASS_REASON_HINT,
        external_id=external_id,
        min_length=messages.BREAK_GLASS_MIN_REASON,
    )


def break_glass_notice(
    thread: Thread, call: ToolCall, tool: type[BaseModel] | None = None
) -> tuple[str, Blocks]:
    """The notice of a break-glass approval of `call`, as it stands now: the fallback text and
    blocks, with the Acknowledge button until someone reviews it."""
    decision = thread.break_glass(call.call_id)
    assert decision is not None and call.terms is not None
    summary = described(call, tool).summary
    deciders = call.terms.deciders
    text = messages.break_glass_notice(decision.user, deciders, summary, decision.reason or "")
    rendered: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    reviewer = thread.reviewed_by(call.call_id)
    if reviewer is not None:
        rendered.append(_context(messages.break_glass_reviewed(reviewer)))
    else:
        button = ButtonElement(
            text=messages.ACKNOWLEDGE,
            action_id=ACKNOWLEDGE_ACTION,
            value=ref_for(thread.id, call).encode(),
            style="primary",
        )
        rendered.append(ActionsBlock(block_id=f"review:{call.call_id}", elements=[button]))
    return text, _dicts(rendered)
