from __future__ import annotations

import pytest

from bot.settings import Settings


def test_environment_names_are_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_APPROVERS", "U0BOB, S0ONCALL,,U0CAROL")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("HITL_APPROVAL_TIMEOUT", "600")
    monkeypatch.setenv("LLM_PROVIDER", "offline")
    settings = Settings()
    assert settings.hitl_approvers == {"U0BOB", "S0ONCALL", "U0CAROL"}
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.hitl_approval_timeout == 600


def test_an_unknown_provider_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "gpt")
    with pytest.raises(ValueError, match="llm_provider"):
        Settings()


def test_resource_owners_are_name_equals_id_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_RESOURCE_OWNERS", "billing-db=U0DBA, analytics = S0DATA,")
    assert Settings().hitl_resource_owners == {"billing-db": "U0DBA", "analytics": "S0DATA"}
