"""HITL_API_TOKENS: the format, errors that never show a secret, and finding a token."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.api_auth import identify, parse_tokens
from bot.settings import Settings

SECRET = "s3cret:with=signs-0123456789"


def test_named_tokens_parse_with_their_scopes_and_the_legacy_token_is_default() -> None:
    settings = Settings(
        hitl_api_token="legacy", hitl_api_tokens=f" ci={SECRET}:launch+read , ops={SECRET}x:admin"
    )
    default, ci, ops = settings.api_tokens()
    assert (default.name, default.scopes) == ("default", frozenset({"admin"}))
    assert (ci.name, ci.secret, ci.scopes) == ("ci", SECRET, frozenset({"launch", "read"}))
    assert ci.allows("read") and not ci.allows("respond") and not ci.allows("control")
    assert ops.allows("respond") and ops.allows("control") and default.allows("launch")
    assert ci.via == "API token ci"


def test_a_token_is_found_by_its_secret_only() -> None:
    tokens = parse_tokens(f"ci={SECRET}:read,ops={SECRET}x:respond")
    assert identify(tokens, SECRET + "x") == tokens[1]
    assert identify(tokens, SECRET) == tokens[0]
    for wrong in ("", SECRET[:-1], SECRET.upper(), "ci"):
        assert identify(tokens, wrong) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (f"ci{SECRET}:read", "NAME=SECRET:SCOPE"),
        (f"CI={SECRET}:read", "NAME=SECRET:SCOPE"),
        ("ci=plain-secret-0123456789", "NAME=SECRET:SCOPE"),
        (f"ci={SECRET}:", "unknown or missing scopes"),
        (f"ci={SECRET}:read+sudo", "['sudo']"),
        ("ci=short:read", "at least 16"),
        (f"ci={SECRET}:read,ci={SECRET}x:read", "its own name"),
        (f"ci={SECRET}:read,ops={SECRET}:read", "share a secret"),
    ],
)
def test_a_bad_entry_is_named_without_its_secret(value: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(hitl_api_tokens=value)
    assert says in str(caught.value)
    assert SECRET not in str(caught.value) and "short" not in str(caught.value)


def test_default_is_reserved_for_hitl_api_token() -> None:
    with pytest.raises(ValidationError, match="HITL_API_TOKEN's"):
        Settings(hitl_api_token="legacy", hitl_api_tokens=f"default={SECRET}:read")


def test_secrets_stay_out_of_reprs() -> None:
    settings = Settings(hitl_api_tokens=f"ci={SECRET}:read")
    assert SECRET not in repr(settings) and SECRET not in repr(settings.api_tokens())
