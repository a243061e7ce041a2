"""The App Home tab ("Waiting for you"), rendered by code from the threads it lists.

Each request waiting for the viewer shows the call as its card does (the tool's own rendering
of the exact arguments, `blocks.described`), who asked, the deadline as a Slack date token
(each reader's own time zone), a link to its thread, and Approve / Reject / Open. Approve and
Reject are the card's own buttons (same action ids, same value with the call's hash), so a
Home click is the same `Decide` job under the same policy. Below: the viewer's own requests
with their status, and recent decisions. Within Slack's 100 blocks per view: the first
MAX_WAITING requests, then "and K more".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from agents.runtime.pending import Listed
from agents.runtime.thread import Outcome
from bot.slack import blocks, limits, messages
from bot.slack.limits import cut

OPEN_ACTION = "hitl_home_open"
"""The Open (link) button; Slack still sends its click, which needs only a 200."""
BLOCKS_PER_REQUEST = 4
FIXED_BLOCKS = 7  # the three headers, the two lists, the empty line or "and K more", slack
MAX_WAITING = (limits.VIEW_BLOCKS - FIXED_BLOCKS) // BLOCKS_PER_REQUEST
MAX_LINES = 15
"""Lines of "Your requests" and "Recent decisions" each."""

WAITING_HEADER = "Waiting for you"
NOTHING_WAITING = "Nothing is waiting for you. :tada:"
MINE_HEADER = "Your requests"
NOTHING_MINE = "You have not asked for anything lately."
DECISIONS_HEADER = "Recent decisions"
NO_DECISIONS = "No decisions yet."
OPEN = "Open"
WAITING = "waiting"

ToolFor = Callable[[Listed], type[BaseModel] | None]
LinkFor = Callable[[Listed], str]


def more(count: int) -> str:
    return f"…and {count} more waiting for you. Open their threads to see them all."


def asked(item: Listed, link: str) -> str:
    """Who asked, where, and by when."""
    assert item.call.terms is not None
    requester = messages.who(item.thread.requester_of(item.call.call_id))
    deadline = messages.slack_date(item.call.terms.deadline)
    return f"Asked by {requester} · decide by {deadline} · <{link}|open the thread>"


def status(item: Listed) -> str:
    result = item.thread.outcome(item.call)
    return WAITING if result is None else _settled(result)


def _settled(result: Outcome) -> str:
    by = f" by {messages.who(result.by)}" if result.by else ""
    return f"{result.kind}{by} {messages.slack_date(result.at)}"


def home(
    waiting: Sequence[Listed],
    mine: Sequence[Listed],
    decisions: Sequence[Listed],
    *,
    tool_for: ToolFor,
    link_for: LinkFor,
) -> dict[str, Any]:
    """The Home view for one viewer: `waiting` (the open requests they may decide), `mine` (their
    own, newest first) and `decisions` (settled ones they took part in, newest first)."""
    shown: list[Block] = [HeaderBlock(text=WAITING_HEADER)]
    for item in waiting[:MAX_WAITING]:
        shown += _request(item, tool_for(item), link_for(item))
    if not waiting:
        shown.append(_line(NOTHING_WAITING))
    elif len(waiting) > MAX_WAITING:
        shown.append(_line(more(len(waiting) - MAX_WAITING)))
    shown += [
        HeaderBlock(text=MINE_HEADER),
        _list(mine, tool_for, link_for, NOTHING_MINE),
        HeaderBlock(text=DECISIONS_HEADER),
        _list(decisions, tool_for, link_for, NO_DECISIONS),
    ]
    return {"type": "home", "blocks": [b.to_dict() for b in shown]}


def _request(item: Listed, tool: type[BaseModel] | None, link: str) -> list[Block]:
    summary, fields, _ = blocks.described(item.call, tool)
    value = blocks.ref_for(item.thread.id, item.call).encode()
    texts = [messages.shown(f, limits.SECTION_FIELD) for f in fields[: limits.SECTION_FIELDS]]
    approve = ButtonElement(
        text=messages.APPROVE,
        action_id=blocks.APPROVE_ACTION,
        value=value,
        style="primary",
        confirm=ConfirmObject(
            title=messages.CONFIRM_TITLE,
            text=messages.confirm_approval(summary),
            confirm=messages.APPROVE,
            deny=messages.CANCEL,
        ),
    )
    reject = ButtonElement(
        text=messages.REJECT, action_id=blocks.REJECT_ACTION, value=value, style="danger"
    )
    opener = ButtonElement(text=OPEN, action_id=OPEN_ACTION, url=link, value=item.call.call_id)
    return [
        SectionBlock(
            text=MarkdownTextObject(text=messages.strong(summary, limits.SECTION_TEXT)),
            fields=[MarkdownTextObject(text=t) for t in texts] or None,
        ),
        ContextBlock(elements=[MarkdownTextObject(text=cut(asked(item, link), 3000))]),
        ActionsBlock(
            block_id=f"home:{item.thread.id}:{item.call.call_id}",
            elements=[approve, reject, opener],
        ),
        DividerBlock(),
    ]


def _list(items: Sequence[Listed], tool_for: ToolFor, link_for: LinkFor, empty: str) -> Block:
    lines = [
        f"• {blocks.described(i.call, tool_for(i)).summary} · {status(i)} · <{link_for(i)}|thread>"
        for i in items[:MAX_LINES]
    ]
    return _line("\n".join(lines) if lines else empty)


def _line(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=cut(text, limits.SECTION_TEXT)))
