"""Modals in the emulator: the views.open/update/push methods, the `state.values` a submission
carries, and what Slack does with the app's answer to a `view_submission` (response_action)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from bot.emulator.checks import view_problems
from bot.emulator.payloads import find_option
from bot.emulator.state import ApiError, View, Violation, Workspace


class IncompleteView(ValueError):
    """Slack's client would not send this submission; `errors` are what it shows (block_id ->
    message), also set on the view."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"the modal shows errors, nothing was sent: {errors}")
        self.errors = errors


MAX_STACK = 3  # Slack keeps at most three views in a modal's stack
REQUIRED = "Please complete this required field."

# element type -> (key in state.values, key of its initial value in the element)
STATE_KEYS: dict[str, tuple[str, str]] = {
    "plain_text_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "static_select": ("selected_option", "initial_option"),
    "radio_buttons": ("selected_option", "initial_option"),
    "multi_static_select": ("selected_options", "initial_options"),
    "checkboxes": ("selected_options", "initial_options"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "channels_select": ("selected_channel", "initial_channel"),
}


def views_open(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = _take_trigger(ws, args.get("trigger_id"))
    spec = _checked_spec(ws, args)
    for stale in ws.open_views(user):  # a new modal replaces whatever the user had open
        stale.closed = True
    view = _new_view(ws, user, spec)
    ws.views.append(view)
    return {"view": ws.slack_view(view)}


def views_push(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = _take_trigger(ws, args.get("trigger_id"))
    spec = _checked_spec(ws, args)
    view = push(ws, user, spec)
    return {"view": ws.slack_view(view)}


def views_update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    view_id, external_id = args.get("view_id"), args.get("external_id")
    if bool(view_id) == bool(external_id):
        raise ApiError("invalid_arguments", ["exactly one of view_id, external_id is required"])
    try:
        view = ws.find_view(view_id=view_id, external_id=external_id)
    except LookupError:
        raise ApiError("not_found") from None
    if view.closed:
        raise ApiError("not_found")
    if args.get("hash") and args["hash"] != view.hash:
        raise ApiError("hash_conflict")
    replace(ws, view, _checked_spec(ws, args, current=view))
    return {"view": ws.slack_view(view)}


def push(ws: Workspace, user: str, spec: dict[str, Any]) -> View:
    stack = ws.open_views(user)
    if not stack:
        raise ApiError("not_found", ["there is no open modal to push onto"])
    if len(stack) >= MAX_STACK:
        raise ApiError("push_limit_reached")
    view = _new_view(ws, user, spec, root=stack[0].id, previous=stack[-1].id)
    ws.views.append(view)
    return view


def replace(ws: Workspace, view: View, spec: dict[str, Any]) -> None:
    """views.update / response_action=update: same id, new contents and hash, errors cleared."""
    fresh = _new_view(ws, view.user, spec)
    for name in ("type", "title", "blocks", "callback_id", "private_metadata", "submit", "close"):
        setattr(view, name, getattr(fresh, name))
    view.external_id = fresh.external_id or view.external_id
    view.notify_on_close, view.clear_on_close = fresh.notify_on_close, fresh.clear_on_close
    view.hash, view.errors = fresh.hash, {}
    kept = {b.get("block_id") for b in view.blocks}
    view.values = {k: v for k, v in view.values.items() if k in kept}


def submission_state(
    view: View, values: dict[str, dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Slack's `state.values` for what the user entered (block_id -> {action_id: value}; input
    blocks not mentioned keep their initial value), and the errors Slack's client shows
    without sending anything (required fields, lengths)."""
    inputs = {b["block_id"]: b for b in view.blocks if b.get("type") == "input"}
    unknown = sorted(set(values) - set(inputs))
    if unknown:
        raise LookupError(f"no input blocks {unknown} in the view; it has {list(inputs)}")
    state: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for block_id, block in inputs.items():
        element: dict[str, Any] = block.get("element") or {}
        action_id, kind = element.get("action_id"), element.get("type")
        given = values.get(block_id, {})
        if set(given) - {action_id}:
            raise LookupError(f"block {block_id!r} has one element, {action_id!r}; got {given}")
        if kind not in STATE_KEYS:
            raise LookupError(f"the emulator cannot fill a {kind} (block {block_id!r})")
        entry = _entry(element, given[action_id]) if action_id in given else _initial(element)
        state[block_id] = {str(action_id): entry}
        problem = _client_problem(block, element, entry)
        if problem:
            errors[block_id] = problem
    return state, errors


def apply_answer(ws: Workspace, view: View, status: int, body: bytes) -> None:
    """Do what Slack does with the app's HTTP answer to a view_submission for `view`."""
    if status != 200:
        return  # Slack shows "We had some trouble connecting" and keeps the modal open
    if not body.strip():
        view.closed = True
        return
    try:
        answer = json.loads(body)
    except json.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        return _violation(ws, "invalid_response", ["the answer is neither empty nor JSON"], body)
    try:
        _apply_action(ws, view, answer)
    except ApiError as e:
        _violation(ws, e.code, e.details, answer)


def _apply_action(ws: Workspace, view: View, answer: dict[str, Any]) -> None:
    action = answer.get("response_action")
    if action in (None, "clear"):
        targets = [view] if action is None else ws.open_views(view.user)
        for v in targets:
            v.closed = True
    elif action == "errors":
        view.errors = _answer_errors(view, answer.get("errors"))
    elif action in ("update", "push"):
        spec = answer.get("view")
        problems = view_problems(spec)
        if problems:
            raise ApiError("invalid_arguments", problems)
        assert isinstance(spec, dict)
        if action == "update":
            replace(ws, view, spec)
        else:
            push(ws, view.user, spec)
    else:
        raise ApiError("invalid_response_action", [f"unknown response_action {action!r}"])


def _answer_errors(view: View, errors: Any) -> dict[str, str]:
    inputs = {b.get("block_id") for b in view.blocks if b.get("type") == "input"}
    if not isinstance(errors, dict) or not errors:
        raise ApiError("invalid_errors", ["errors must be a non-empty object"])
    unknown = [k for k in errors if k not in inputs]
    if unknown:
        raise ApiError("invalid_errors", [f"no input block {k!r} in the view" for k in unknown])
    return {str(k): str(v) for k, v in errors.items()}


def _violation(ws: Workspace, error: str, details: list[str], answer: Any) -> None:
    shown = answer if isinstance(answer, dict) else {"body": str(answer)[:500]}
    ws.violations.append(Violation("view_submission response", error, details, shown))


def _take_trigger(ws: Workspace, trigger_id: Any) -> str:
    trigger = ws.triggers.get(str(trigger_id))
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.used:
        raise ApiError("exchanged_trigger_id")
    if time.monotonic() - trigger.issued > ws.trigger_ttl:
        raise ApiError("expired_trigger_id")
    trigger.used = True
    return trigger.user


def _checked_spec(ws: Workspace, args: dict[str, Any], current: View | None = None) -> Any:
    spec = args.get("view")
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError:
            raise ApiError("invalid_arguments", ["view is not valid JSON"]) from None
    problems = view_problems(spec)
    if problems:
        raise ApiError("invalid_arguments", problems)
    assert isinstance(spec, dict)  # view_problems checked it
    external_id = spec.get("external_id")
    taken = [v for v in ws.views if external_id and v.external_id == external_id]
    if any(v is not current for v in taken):
        raise ApiError("duplicate_external_id")
    return spec


def _new_view(
    ws: Workspace,
    user: str,
    spec: dict[str, Any],
    *,
    root: str | None = None,
    previous: str | None = None,
) -> View:
    view_id = ws.next_id("V")
    return View(
        id=view_id,
        user=user,
        type=str(spec["type"]),
        title=spec.get("title"),
        blocks=[_with_ids(ws, b) for b in spec["blocks"]],
        hash=f"{int(time.time())}.{secrets.token_urlsafe(6)}",
        root_view_id=root or view_id,
        previous_view_id=previous,
        callback_id=str(spec.get("callback_id") or ""),
        private_metadata=str(spec.get("private_metadata") or ""),
        external_id=str(spec.get("external_id") or ""),
        submit=spec.get("submit"),
        close=spec.get("close"),
        notify_on_close=bool(spec.get("notify_on_close")),
        clear_on_close=bool(spec.get("clear_on_close")),
    )


def _with_ids(ws: Workspace, block: dict[str, Any]) -> dict[str, Any]:
    # Slack fills in every missing block_id and action_id, and `optional` on inputs.
    out = block | {"block_id": block.get("block_id") or ws.next_id("b")}
    if out["type"] == "input":
        out.setdefault("optional", False)
    for key in ("element", "accessory"):
        if isinstance(out.get(key), dict):
            out[key] = _with_action_id(ws, out[key])
    if out["type"] == "actions" and isinstance(out.get("elements"), list):
        out["elements"] = [_with_action_id(ws, el) for el in out["elements"]]
    return out


def _with_action_id(ws: Workspace, element: Any) -> Any:
    if not isinstance(element, dict) or element.get("type") in ("image", "plain_text", "mrkdwn"):
        return element
    return element | {"action_id": element.get("action_id") or ws.next_id("a")}


def _entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = str(element["type"])
    key = STATE_KEYS[kind][0]
    if key == "value":
        converted: Any = str(value) if value not in (None, "") else None
    elif key == "selected_option":
        converted = find_option(element, value) if value is not None else None
    elif key == "selected_options":
        converted = [find_option(element, v) for v in value or []]
    else:
        converted = value
    return {"type": kind, key: converted}


def _initial(element: dict[str, Any]) -> dict[str, Any]:
    kind = str(element["type"])
    key, initial = STATE_KEYS[kind]
    default: Any = [] if key in ("selected_options", "selected_users") else None
    return {"type": kind, key: element.get(initial, default)}


def _client_problem(block: dict[str, Any], element: dict[str, Any], entry: dict[str, Any]) -> str:
    value = next(v for k, v in entry.items() if k != "type")
    if value in (None, "", []):
        return "" if block.get("optional") else REQUIRED
    if entry["type"] == "number_input":
        try:
            number = float(value) if element.get("is_decimal_allowed") else int(value)
        except ValueError:
            return "Please enter a number."
        low, high = element.get("min_value"), element.get("max_value")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            return f"Please enter a number between {low} and {high}."
    elif isinstance(value, str):
        low, high = element.get("min_length"), element.get("max_length")
        if low is not None and len(value) < int(low):
            return f"Please enter at least {low} characters."
        if high is not None and len(value) > int(high):
            return f"Please enter at most {high} characters."
    return ""
