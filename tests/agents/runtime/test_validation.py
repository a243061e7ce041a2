"""Validation errors as people read them: one sentence per field, no pattern, no pydantic
wording, no tool name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agents.runtime.validation import first_problem, problems
from tools.access import GrantAccess
from tools.deploy import Deploy

MACHINE_WORDS = ("pattern", "^", "String should", "validation error", "Deploy", "GrantAccess")


def errors_of(model: type[Deploy] | type[GrantAccess], data: dict[str, object]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_each_field_gets_one_sentence_in_words_people_use() -> None:
    exc = errors_of(Deploy, {"service": "API!", "version": "latest", "environment": "moon"})
    found = problems(exc, Deploy)
    assert found == {
        "service": "Service isn't valid. Expected: Service name, e.g. `api`.",
        "version": "Version isn't valid. Expected: Semantic version, e.g. `1.4.2` "
        "(a leading v is ok).",
        "environment": "Environment must be one of: staging, production.",
    }
    for text in found.values():
        assert not any(word in text for word in MACHINE_WORDS), text


def test_bounds_numbers_and_missing_fields_are_said_plainly() -> None:
    base = {
        "user": "U0DANA",
        "resource": "billing-db",
        "level": "read",
        "justification": "the audit",
    }
    too_long = problems(errors_of(GrantAccess, base | {"duration_hours": 9999}), GrantAccess)
    assert too_long == {"duration_hours": "Duration hours must be at most 720."}
    not_number = problems(errors_of(GrantAccess, base | {"duration_hours": "soon"}), GrantAccess)
    assert not_number == {"duration_hours": "Duration hours must be a whole number."}
    missing = problems(errors_of(Deploy, {"service": "api", "version": "1.0.0"}), Deploy)
    assert missing == {"environment": "Environment is required."}
    short = problems(
        errors_of(GrantAccess, base | {"duration_hours": 1, "justification": ""}), GrantAccess
    )
    assert short["justification"].startswith("Justification is too short (at least ")


def test_the_first_problem_is_one_sentence_for_a_refusal() -> None:
    exc = errors_of(Deploy, {"service": "api", "version": "latest", "environment": "staging"})
    assert first_problem(exc, Deploy).startswith("Version isn't valid.")
    assert "validation error" not in first_problem(exc, Deploy)
