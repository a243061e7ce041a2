"""Validation errors as people read them: one sentence per field, never pydantic's wording, a
regular expression or a tool's name. The API keeps pydantic's details (its callers are
programs); the Edit form and the refusal of an edit show these."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

FORM = "form"
"""The key of a problem that is about no single field."""


def problems(exc: ValidationError, model: type[BaseModel]) -> dict[str, str]:
    """One human sentence per field that `exc` (raised by `model`) found wrong, by field name;
    the first problem of each field only."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else FORM
        if name not in found:
            found[name] = sentence(error, model)
    return found


def first_problem(exc: ValidationError, model: type[BaseModel]) -> str:
    """The first problem of `exc` as one sentence (a refusal has room for one)."""
    return next(iter(problems(exc, model).values()), "Those values aren't valid.")


def sentence(error: ErrorDetails, model: type[BaseModel]) -> str:
    """One pydantic error as a sentence about its field, using the field's own description
    (which says what a good value looks like) where pydantic would show a pattern."""
    name = str(error["loc"][0]) if error["loc"] else ""
    info = model.model_fields.get(name)
    label = (info.title if info and info.title else name.replace("_", " ").capitalize()) or "It"
    hint = f" Expected: {info.description}" if info and info.description else ""
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    kind = error["type"]
    if kind == "missing":
        return f"{label} is required."
    if kind in ("greater_than_equal", "greater_than"):
        return f"{label} must be at least {ctx.get('ge', ctx.get('gt'))}."
    if kind in ("less_than_equal", "less_than"):
        return f"{label} must be at most {ctx.get('le', ctx.get('lt'))}."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number."
    if kind in ("literal_error", "enum"):
        return f"{label} must be one of: {_choices(ctx)}."
    if kind in ("string_too_long", "too_long"):
        return f"{label} is too long (at most {ctx.get('max_length')} characters)."
    if kind in ("string_too_short", "too_short"):
        return f"{label} is too short (at least {ctx.get('min_length')} characters)."
    return f"{label} isn't valid.{hint}"


def _choices(ctx: dict[str, Any]) -> str:
    # pydantic's `expected` reads "'staging' or 'production'": drop the quotes.
    return str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
