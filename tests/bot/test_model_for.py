"""Which model the settings build, what they must name, and who closes an HTTP client."""

from __future__ import annotations

import pytest

from agents.models.llm_anthropic import AnthropicModel
from agents.models.llm_openai import OpenAIModel
from agents.models.offline import OfflineModel
from agents.models.scripted import ScriptedModel
from bot.services import ConfigError, build_services, model_for
from bot.settings import Settings
from tests.agents.models.fake_providers import deploy_request


async def test_each_provider_builds_its_client() -> None:
    assert isinstance(model_for(llm(llm_provider="offline"), []), OfflineModel)

    local = model_for(
        Settings(
            llm_provider="openai",
            llm_model="llama3.1",
            openai_base_url="http://127.0.0.1:11434/v1",
        ),
        [],
    )
    assert isinstance(local, OpenAIModel) and local.model == "llama3.1"
    await local.aclose()

    claude = model_for(
        Settings(llm_provider="anthropic", llm_model="claude-test", anthropic_api_key="k"), []
    )
    assert isinstance(claude, AnthropicModel) and claude.model == "claude-test"
    await claude.aclose()


def llm(**given: str) -> Settings:
    """LLM settings with everything not given unset, whatever the environment says."""
    unset: dict[str, str | None] = {"llm_model": None, "openai_api_key": None}
    unset["anthropic_api_key"] = None
    return Settings(**(unset | given))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"llm_provider": "openai", "openai_api_key": "sk-x"}, "needs LLM_MODEL;"),
        ({"llm_provider": "anthropic"}, "needs LLM_MODEL, ANTHROPIC_API_KEY;"),
        ({"llm_provider": "anthropic", "llm_model": "m"}, "needs ANTHROPIC_API_KEY;"),
    ],
)
def test_missing_settings_are_named(given: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        model_for(llm(**given), [])


async def test_services_close_the_client_they_built_and_not_one_passed_in(
    redis_server: str,
) -> None:
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="s",
        redis_url=redis_server,
        llm_provider="openai",
        llm_model="gpt-test",
        openai_base_url="http://127.0.0.1:9/v1",
    )
    built = build_services(settings)
    assert isinstance(built.owned_model, OpenAIModel)
    await built.close()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await built.owned_model.next_step(deploy_request())

    passed = build_services(settings, model=ScriptedModel())
    assert passed.owned_model is None
    await passed.close()
