"""The requests API's one tool: every argument rendered by code, always gated, edits as text."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tools.external import MAX_ARGUMENT_CHARS, ExternalAction
from tools.types import Shown


def test_every_argument_is_shown_by_code_and_the_action_is_gated() -> None:
    action = ExternalAction(
        name="rotate_key",
        arguments={"key_id": "k-9", "force": True, "long": "x" * 600},
        beneficiary_user="U0DANA",
    )
    shown = action.fields()
    assert shown[:3] == [
        Shown("Action", "rotate_key"),
        Shown("Key id", "k-9"),
        Shown("Force", "true"),
    ]
    assert len(shown[3].value) == MAX_ARGUMENT_CHARS and shown[3].value.endswith("…")
    assert shown[4] == Shown("Beneficiary", "U0DANA", user=True)
    assert action.gated_by_default() and action.beneficiary() == "U0DANA"
    assert ExternalAction(name="x").beneficiary() is None


def test_edited_arguments_are_read_as_json_or_a_python_literal_never_run() -> None:
    as_json = ExternalAction.model_validate({"name": "x", "arguments": '{"a": 1}'})
    as_repr = ExternalAction.model_validate({"name": "x", "arguments": "{'a': 1}"})
    assert as_json.arguments == as_repr.arguments == {"a": 1}
    with pytest.raises(ValidationError, match="JSON object"):
        ExternalAction.model_validate({"name": "x", "arguments": "__import__('os')"})
    with pytest.raises(ValidationError):
        ExternalAction.model_validate({"name": "x", "arguments": "[1, 2]"})
