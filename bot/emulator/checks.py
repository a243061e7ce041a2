"""Slack's limits on what an app sends, checked with slack_sdk's Block Kit models.

slack_sdk's models check most limits; Slack also refuses some they accept (a section field over
2,000 characters, a context text over 3,000, an option's text over 75 or value over 150, a
plain_text_input's initial_value over 3,000), checked here by `_unchecked`.

Each problem reads like the detail Slack returns (`"<what> [json-pointer:/blocks/0/text]"`),
so a violation found in a test points at the offending block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from slack_sdk.models.basic_objects import JsonObject
from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_FIELD_TEXT = 2_000
MAX_TEXT_OBJECT = 3_000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_INPUT_VALUE = 3_000
_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


def _types(base: type[JsonObject]) -> frozenset[str]:
    found: set[str] = set()
    pending = list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        kind = cls.__dict__.get("type")
        if isinstance(kind, str):
            found.add(kind)
        pending += cls.__subclasses__()
    return frozenset(found)


BLOCK_TYPES = _types(Block)
ELEMENT_TYPES = _types(BlockElement) | _TEXT_TYPES


def message_problems(text: str | None, blocks: list[Any] | None) -> list[str]:
    """Why Slack would refuse this message (`invalid_blocks`, `msg_too_long`); empty if none."""
    problems = []
    if text is not None and len(text) > MAX_MESSAGE_TEXT:
        problems.append(f"text must be at most {MAX_MESSAGE_TEXT} characters [json-pointer:/text]")
    if blocks is not None:
        problems += block_problems(blocks, pointer="/blocks", limit=MAX_MESSAGE_BLOCKS)
    return problems


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view in views.open/update/push (`invalid_arguments`)."""
    if not isinstance(view, dict):
        return ["failed to match all allowed schemas [json-pointer:/view]"]
    if view.get("type") not in ("modal", "home"):
        return ["must be one of modal, home [json-pointer:/view/type]"]
    problems = []
    if view["type"] == "modal" and not isinstance(view.get("title"), dict):
        problems.append("missing required field: title [json-pointer:/view]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, "missing required field: blocks [json-pointer:/view]"]
    has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if view["type"] == "modal" and has_input and not view.get("submit"):
        problems.append("submit is required when blocks contain an input [json-pointer:/view]")
    if not blocks:
        problems.append("must provide at least 1 item [json-pointer:/view/blocks]")
    problems += _validated(partial(_view_to_dict, view), "/view")
    return problems + block_problems(blocks, pointer="/view/blocks", limit=MAX_VIEW_BLOCKS)


def block_problems(blocks: list[Any], *, pointer: str, limit: int) -> list[str]:
    problems = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:{pointer}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"failed to match all allowed schemas [json-pointer:{at}]")
            continue
        if block["type"] not in BLOCK_TYPES:
            problems.append(f"unsupported type: {block['type']} [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen:
                problems.append(f"duplicate block_id {block_id!r} [json-pointer:{at}/block_id]")
            seen.add(block_id)
        unknown = [f"{t} [json-pointer:{at}{p}/type]" for p, t in _elements(block) if t]
        if unknown:
            problems += [f"unsupported element type: {u}" for u in unknown]
            continue
        problems += _validated(partial(_to_dict, block), at)
        problems += _unchecked(block, at)
    return problems


def _too_long(value: Any, limit: int, what: str, at: str) -> list[str]:
    text = value.get("text") if isinstance(value, dict) else value
    if isinstance(text, str) and len(text) > limit:
        return [f"{what} must be at most {limit} characters [json-pointer:{at}]"]
    return []


def _unchecked(block: dict[str, Any], at: str) -> list[str]:
    """The limits slack_sdk's models do not check, for one block."""
    problems = []
    for i, field in enumerate(_list(block.get("fields")) if block["type"] == "section" else []):
        problems += _too_long(field, MAX_FIELD_TEXT, "text", f"{at}/fields/{i}/text")
    if block["type"] == "context":
        for i, el in enumerate(_list(block.get("elements"))):
            problems += _too_long(el, MAX_TEXT_OBJECT, "text", f"{at}/elements/{i}/text")
    for where, el in _element_dicts(block):
        problems += _element_unchecked(el, f"{at}{where}")
    return problems


def _element_unchecked(el: dict[str, Any], at: str) -> list[str]:
    problems = []
    if el.get("type") == "plain_text_input":
        value = el.get("initial_value")
        problems += _too_long(value, MAX_INPUT_VALUE, "initial_value", f"{at}/initial_value")
    options = [(f"/options/{i}", o) for i, o in enumerate(_list(el.get("options")))]
    for g, group in enumerate(_list(el.get("option_groups"))):
        group_options = _list(group.get("options") if isinstance(group, dict) else None)
        options += [(f"/option_groups/{g}/options/{i}", o) for i, o in enumerate(group_options)]
    if isinstance(el.get("initial_option"), dict):
        options.append(("/initial_option", el["initial_option"]))
    options += [
        (f"/initial_options/{i}", o) for i, o in enumerate(_list(el.get("initial_options")))
    ]
    for where, option in options:
        if isinstance(option, dict):
            problems += _too_long(option.get("text"), MAX_OPTION_TEXT, "text", f"{at}{where}/text")
            value = option.get("value")
            problems += _too_long(value, MAX_OPTION_VALUE, "value", f"{at}{where}/value")
    return problems


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _element_dicts(block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(json pointer suffix, element) for each interactive element of `block`."""
    if block["type"] == "actions":
        for i, el in enumerate(_list(block.get("elements"))):
            if isinstance(el, dict):
                yield f"/elements/{i}", el
    for name in ("accessory", "element"):
        if isinstance(block.get(name), dict):
            yield f"/{name}", block[name]


def _to_dict(block: dict[str, Any]) -> object:
    parsed = Block.parse(block)
    assert parsed is not None  # the type was checked against BLOCK_TYPES
    return parsed.to_dict()


def _view_to_dict(view: dict[str, Any]) -> object:
    # The blocks are checked one by one (with their positions) by block_problems.
    parsed = View(**{k: v for k, v in view.items() if k != "blocks"})
    parsed.blocks = None  # type: ignore[assignment]
    return parsed.to_dict()


def _elements(block: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(json pointer suffix, type if slack_sdk does not know it) for each element of `block`."""
    candidates: list[tuple[str, Any]] = []
    if isinstance(block.get("elements"), list) and block["type"] in ("actions", "context"):
        candidates += [(f"/elements/{i}", el) for i, el in enumerate(block["elements"])]
    for name in ("accessory", "element"):
        if name in block:
            candidates.append((f"/{name}", block[name]))
    for where, el in candidates:
        kind = el.get("type") if isinstance(el, dict) else None
        yield where, None if kind in ELEMENT_TYPES else str(kind)


def _validated(build: Callable[[], object], at: str) -> list[str]:
    try:
        build()
    except Exception as e:  # slack_sdk raises SlackObjectFormationError, TypeError, KeyError...
        detail = str(e).strip() or type(e).__name__
        return [f"{detail} [json-pointer:{at}]"]
    return []
