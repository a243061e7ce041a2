"""Signed approval receipts end to end: production deploys through signed Slack requests, with
the deploy webhook (or GitHub) at a real local receiver that verifies each receipt with the
standard-library verifier and refuses a call nobody approved."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.runtime.store import thread_id_for
from agents.runtime.thread import SlackOrigin
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, DEPLOYS, BotProcess, MakeBot
from tests.support import approval_message, asked, bot_replies, cli_env, deployments, hitl, mention
from tests.tools.fake_servers import GITHUB_TOKEN, SECRET, FakeGitHub, FakeWebhook
from tools.receipt_verify import ReceiptError, verify

RECEIPT_SECRET = "receipt-secret-0123"
GATED = ("deploy", "rollback")
NOT_RECEIPT_ARGUMENTS = ("action", "idempotency_key", "receipt")


@dataclass
class VerifyingExecutor(FakeWebhook):
    """An executor that runs a gated action only with a valid receipt for exactly its
    arguments (the webhook signature is checked first, as by any receiver)."""

    secret: str = RECEIPT_SECRET
    refused: list[str] | None = None

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self._checked, methods=["POST"])])

    async def _checked(self, request: Request) -> Response:
        body = json.loads(await request.body())
        if body.get("action") in GATED:
            arguments = {k: v for k, v in body.items() if k not in NOT_RECEIPT_ARGUMENTS}
            try:
                verify(str(body.get("receipt", "")), self.secret, body["action"], arguments)
            except (ReceiptError, ValueError, KeyError) as exc:
                self.refused = [*(self.refused or []), str(exc)]
                return JSONResponse({"error": f"refused: {exc}"}, status_code=403)
        return await self._hook(request)


async def production_deploy(
    make_bot: MakeBot, slack: SlackEmulator, executor: VerifyingExecutor
) -> tuple[BotProcess, str]:
    """A bot whose deploys go to `executor` with receipts, asked for a production deploy."""
    bot = await make_bot(
        hitl_deploy_webhook_url=f"{executor.url}/hook",
        hitl_deploy_webhook_secret=SECRET,
        hitl_receipt_secret=RECEIPT_SECRET,
    )
    root = await mention(slack, "deploy api 3.0.0 to production")
    await bot.settle()
    return bot, root


@pytest.fixture
async def executor() -> AsyncIterator[VerifyingExecutor]:
    fake = VerifyingExecutor()
    await fake.start()
    yield fake
    await fake.stop()


def calls(executor: FakeWebhook, action: str) -> list[dict[str, Any]]:
    return [r.body for r in executor.received if r.body and r.body["action"] == action]


async def test_an_approved_production_deploy_carries_a_receipt_the_executor_verifies(
    executor: VerifyingExecutor, slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot, root = await production_deploy(make_bot, slack, executor)
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()

    assert executor.refused is None
    (deploy,) = calls(executor, "deploy")
    arguments = {"service": "api", "version": "3.0.0", "environment": "production"}
    claims = verify(deploy["receipt"], RECEIPT_SECRET, "deploy", arguments)
    assert claims["deciders"] == [BOB] and claims["rule"] == "default"
    assert "Deployed api 3.0.0 to production" in bot_replies(slack, DEPLOYS, root)[-1].text
    # The same receipt would not cover any other call.
    with pytest.raises(ReceiptError):
        verify(deploy["receipt"], RECEIPT_SECRET, "deploy", {**arguments, "version": "3.0.1"})


async def test_an_executor_refuses_a_deploy_nobody_signed_for(
    executor: VerifyingExecutor, slack: SlackEmulator, make_bot: MakeBot
) -> None:
    # The bot signs with another secret than the executor trusts: refused, nothing runs.
    bot = await make_bot(
        hitl_deploy_webhook_url=f"{executor.url}/hook",
        hitl_deploy_webhook_secret=SECRET,
        hitl_receipt_secret="not-the-executors",
    )
    root = await mention(slack, "deploy api 3.0.0 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert executor.refused == ["receipt signature is not valid"]
    assert "refused" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_an_edited_approvals_receipt_matches_the_edited_arguments(
    executor: VerifyingExecutor, slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot, root = await production_deploy(make_bot, slack, executor)
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(BOB)))
    (modal,) = slack.open_views(BOB)
    await slack.submit_view(user=BOB, view=modal, values={"version": {"version": "2.9.9"}})
    await bot.settle()

    assert executor.refused is None
    (deploy,) = calls(executor, "deploy")
    assert deploy["version"] == "2.9.9"
    edited = {"service": "api", "version": "2.9.9", "environment": "production"}
    assert verify(deploy["receipt"], RECEIPT_SECRET, "deploy", edited)["deciders"] == [BOB]
    with pytest.raises(ReceiptError, match="arguments differ"):
        verify(deploy["receipt"], RECEIPT_SECRET, "deploy", {**edited, "version": "3.0.0"})


async def test_without_a_receipt_secret_no_receipt_is_sent_and_the_deploy_runs(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    webhook = FakeWebhook()
    await webhook.start()
    try:
        bot = await make_bot(
            hitl_deploy_webhook_url=f"{webhook.url}/hook", hitl_deploy_webhook_secret=SECRET
        )
        root = await mention(slack, "deploy api 3.0.0 to production")
        await bot.settle()
        await slack.click(
            user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
        )
        await bot.settle()
    finally:
        await webhook.stop()
    (deploy,) = calls(webhook, "deploy")
    assert "receipt" not in deploy
    assert "Deployed api 3.0.0 to production" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_a_simulated_deploy_with_a_receipt_secret_still_runs(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_receipt_secret=RECEIPT_SECRET)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert await deployments(redis) == [("api", "1.4.2", "production")]


async def test_github_dispatch_sends_the_receipt_and_the_exact_arguments(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    github = FakeGitHub()
    await github.start()
    try:
        bot = await make_bot(
            hitl_github_repo="acme/app",
            hitl_github_token=GITHUB_TOKEN,
            hitl_github_api_url=github.url,
            hitl_receipt_secret=RECEIPT_SECRET,
        )
        root = await mention(slack, "deploy api 1.4.2 to production")
        await bot.settle()
        await slack.click(
            user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
        )
        await bot.settle()
        staging = await mention(slack, "deploy api 1.4.2 to staging")
        await bot.settle()
    finally:
        await github.stop()
    dispatches = [r.body for r in github.received if r.path.endswith("/dispatches") and r.body]
    production, ungated = (d["inputs"] for d in dispatches)
    assert all(isinstance(v, str) for v in production.values()) and len(production) <= 10
    arguments = json.loads(production["arguments"])
    assert arguments == {"service": "api", "version": "1.4.2", "environment": "production"}
    assert verify(production["receipt"], RECEIPT_SECRET, production["action"], arguments)
    # A call nobody had to approve has no receipt (and no inputs the workflow must declare).
    assert "receipt" not in ungated and "arguments" not in ungated
    assert bot_replies(slack, DEPLOYS, staging)


async def threads_show(thread_id: str, environ: dict[str, str]) -> str:
    proc = await hitl("threads", "show", thread_id, environ=environ)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=45)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_threads_show_prints_the_receipt_that_was_sent(
    executor: VerifyingExecutor, slack: SlackEmulator, make_bot: MakeBot, redis_server: str
) -> None:
    bot, root = await production_deploy(make_bot, slack, executor)
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    (deploy,) = calls(executor, "deploy")
    thread_id = thread_id_for(SlackOrigin(channel=DEPLOYS, thread_ts=root))

    out = await threads_show(thread_id, cli_env(redis_server, HITL_RECEIPT_SECRET=RECEIPT_SECRET))
    assert f"by {BOB} · default · quorum 1 · expires" in out
    assert f"    {deploy['receipt']}\n" in out

    out = await threads_show(thread_id, cli_env(redis_server))
    assert "receipts: none (HITL_RECEIPT_SECRET is not set)" in out


async def test_an_api_request_approval_has_a_receipt_for_its_own_action_name_and_arguments(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token="api-token", hitl_receipt_secret=RECEIPT_SECRET)
    arguments = {"env": "staging", "keys": 42}
    body = {
        "kind": "approval",
        "channel": DEPLOYS,
        "requested_by": "ci",
        "summary": "Drop the staging cache",
        "action": {"name": "drop_cache", "arguments": arguments},
    }
    headers = {"Authorization": "Bearer api-token"}
    async with httpx.AsyncClient(base_url=f"{bot.server.url}/api", headers=headers) as api:
        request_id = (await api.post("/requests", json=body)).json()["id"]
        await bot.settle()
        assert (await api.get(f"/requests/{request_id}")).json()["receipt"] is None
        (root,) = asked(slack, DEPLOYS)
        card = approval_message(slack, DEPLOYS, root.ts)
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        shown = (await api.get(f"/requests/{request_id}")).json()
    assert shown["status"] == "approved"
    claims = verify(shown["receipt"], RECEIPT_SECRET, "drop_cache", shown["arguments"])
    assert claims["deciders"] == [BOB] and claims["quorum"] == 1
    with pytest.raises(ReceiptError, match="arguments differ"):
        verify(shown["receipt"], RECEIPT_SECRET, "drop_cache", arguments | {"env": "prod"})
    with pytest.raises(ReceiptError, match="not 'drop_db'"):
        verify(shown["receipt"], RECEIPT_SECRET, "drop_db", arguments)
