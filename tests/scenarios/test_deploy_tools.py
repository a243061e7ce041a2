"""The deploy agent's other tools (list_versions, rollback) and its real adapters, GitHub
Actions workflow_dispatch and the signed webhook, against fake servers over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agents.runtime.events import Error
from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, DEPLOYS, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    has_buttons,
    load_thread,
    mention,
    shown_text,
)
from tests.tools.fake_servers import GITHUB_TOKEN, SECRET, FakeGitHub, FakeWebhook
from tools.deploy import DEPLOY_TOOLS, Deploy, SimulatedDeployer


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def webhook() -> AsyncIterator[FakeWebhook]:
    fake = FakeWebhook()
    await fake.start()
    yield fake
    await fake.stop()


async def test_versions_are_listed(slack: SlackEmulator, make_bot: MakeBot) -> None:
    bot = await make_bot()
    root = await mention(slack, "versions of api")
    await bot.settle()
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "Versions of api: 1.4.2, 1.4.1, 1.4.0."


async def test_a_staging_rollback_runs_at_once_and_a_production_one_needs_approval(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    deployer = SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS))
    for i, (version, env) in enumerate([("1.4.1", "staging"), ("1.4.2", "staging")]):
        await deployer.deploy(
            Deploy(service="api", version=version, environment=env), idempotency_key=str(i)
        )
    bot = await make_bot()
    root = await mention(slack, "rollback api in staging")
    await bot.settle()
    assert (await deployments(redis))[-1] == ("api", "1.4.1", "staging")
    assert "Rolled back api in staging to 1.4.1" in bot_replies(slack, DEPLOYS, root)[-1].text

    root = await mention(slack, "roll back api in prod to 1.4.0")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    assert "Roll back api in production to 1.4.0" in shown_text(approval)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert (await deployments(redis))[-1] == ("api", "1.4.0", "production")


async def test_a_rollback_with_nothing_to_go_back_to_is_reported(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot()
    root = await mention(slack, "rollback web in staging")
    await bot.settle()
    assert "no earlier version of web in staging" in bot_replies(slack, DEPLOYS, root)[-1].text
    assert await deployments(redis) == []


async def test_github_actions_workflow_dispatch(
    github: FakeGitHub, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(
        hitl_github_repo="acme/app",
        hitl_github_token=GITHUB_TOKEN,
        hitl_github_workflow="deploy.yml",
        hitl_github_api_url=github.url,
    )
    root = await mention(slack, "deploy api 1.4.2 to staging")
    await bot.settle()
    (dispatch,) = github.received
    assert dispatch.path == "/repos/acme/app/actions/workflows/deploy.yml/dispatches"
    assert dispatch.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert dispatch.body is not None and dispatch.body["ref"] == "main"
    inputs = dispatch.body["inputs"]
    assert {k: inputs[k] for k in ("action", "service", "version", "environment")} == {
        "action": "deploy",
        "service": "api",
        "version": "1.4.2",
        "environment": "staging",
    }
    assert inputs["idempotency_key"].endswith(":c1")
    assert (
        "Started the deploy workflow for api 1.4.2 in staging"
        in bot_replies(slack, DEPLOYS, root)[-1].text
    )
    assert await deployments(redis) == []  # not simulated

    root = await mention(slack, "versions of api")
    await bot.settle()
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "Versions of api: 1.4.2, 1.4.1."


async def test_github_rejecting_the_token_is_an_error_event(
    github: FakeGitHub, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(
        hitl_github_repo="acme/app", hitl_github_token="wrong", hitl_github_api_url=github.url
    )
    root = await mention(slack, "deploy api 1.4.2 to staging")
    await bot.settle()
    errors = [e.message for e in (await load_thread(redis, root)).events if isinstance(e, Error)]
    assert errors == ["deploy failed: github: HTTP 401: Bad credentials"]
    assert "Bad credentials" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_signed_webhook_deploy_runs_once_after_approval(
    webhook: FakeWebhook, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(
        hitl_deploy_webhook_url=f"{webhook.url}/hook", hitl_deploy_webhook_secret=SECRET
    )
    # 3.0.0 is a version the receiver lists; before the approval only that check reached it.
    root = await mention(slack, "deploy api 3.0.0 to production")
    await bot.settle()
    assert [r.body and r.body["action"] for r in webhook.received] == ["list_versions"]
    approval = approval_message(slack, DEPLOYS, root)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()

    _check, call = webhook.received
    assert call.body is not None and call.body["action"] == "deploy"
    assert call.headers["idempotency-key"] == call.body["idempotency_key"]
    assert call.headers["x-hitl-signature"].startswith("sha256=")
    assert (
        "Deployed api 3.0.0 to production (deployment w-1)"
        in bot_replies(slack, DEPLOYS, root)[-1].text
    )
    assert not has_buttons(slack.find_message(DEPLOYS, approval.ts))


async def test_a_failing_webhook_is_an_error_event_and_nothing_is_retried_blindly(
    webhook: FakeWebhook, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    webhook.status = 503
    bot = await make_bot(
        hitl_deploy_webhook_url=f"{webhook.url}/hook", hitl_deploy_webhook_secret=SECRET
    )
    root = await mention(slack, "deploy api 1.4.2 to staging")
    await bot.settle()
    errors = [e.message for e in (await load_thread(redis, root)).events if isinstance(e, Error)]
    assert errors == ["deploy failed: RuntimeError: deploy: HTTP 503: receiver is failing"]
    assert len(webhook.received) == 1
    assert "couldn't finish" in bot_replies(slack, DEPLOYS, root)[-1].text
