"""The schema helpers that shape what a model reads: `compact_schema` and `call_parameters`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.types import call_parameters, compact_schema


class Note(BaseModel):
    """Write a note."""

    intent: Literal["note"] = "note"
    title: str = Field(description="The note's heading.")
    body: str = ""
    tags: list[str] = Field(default_factory=list)
    due: int | None = Field(default=None, description="Days from now.", ge=1)
    urgency: Literal["low", "high"] = "high"


def test_titles_and_empty_defaults_go_a_field_named_title_stays() -> None:
    schema = compact_schema(Note.model_json_schema())
    assert "title" not in schema
    assert schema["properties"]["title"] == {"description": "The note's heading.", "type": "string"}
    assert schema["properties"]["body"] == {"type": "string"}
    assert schema["properties"]["tags"] == {"items": {"type": "string"}, "type": "array"}
    # A default that says something stays.
    assert schema["properties"]["urgency"]["default"] == "high"


def test_an_optional_field_is_its_own_type_left_out_of_required() -> None:
    due = compact_schema(Note.model_json_schema())["properties"]["due"]
    assert due == {"type": "integer", "minimum": 1, "description": "Days from now."}


def test_call_parameters_leave_the_intent_to_the_call_name() -> None:
    parameters = call_parameters(Note)
    assert "intent" not in parameters["properties"]
    assert parameters["required"] == ["title"]
    assert "description" not in parameters  # the docstring is the call's description
    # What validates a call is the model, not this view: an explicit null is still taken.
    assert Note.model_validate({"title": "t", "due": None}).due is None
