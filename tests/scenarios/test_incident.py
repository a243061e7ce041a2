"""The incident agent end to end: recent deploys and open incidents are pre-fetched by code
before the first model step, on-call is paged with a summary, a rollback is proposed (gated)."""

from __future__ import annotations

from redis.asyncio import Redis

from agents.models.llm_http import Retry
from agents.runtime.events import Error, ToolCall, ToolResult
from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from tests.agents.models.fake_providers import FakeProvider, client_for, context_sent, error
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MakeBot
from tests.support import (
    approval_message,
    bot_replies,
    deployments,
    load_thread,
    mention,
    shown_text,
)
from tools.deploy import DEPLOY_TOOLS, Deploy, SimulatedDeployer
from tools.incidents import INCIDENT_TOOLS, SimulatedIncidents


async def seed(redis: Redis) -> None:
    deployer = SimulatedDeployer(simulated_store(redis, DEPLOY_TOOLS))
    for key, version in (("seed-1", "2.3.0"), ("seed-2", "2.3.1")):
        call = Deploy(service="checkout", version=version, environment="production")
        await deployer.deploy(call, idempotency_key=key)
    await SimulatedIncidents(simulated_store(redis, INCIDENT_TOOLS)).open(
        "INC-7", title="Payments slow", service="payments"
    )


async def test_on_call_gets_the_facts_and_a_rollback_needs_approval(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    await seed(redis)
    bot = await make_bot(hitl_oncall=CAROL)
    root = await mention(slack, "checkout is returning 500s")
    await bot.settle()

    thread = await load_thread(redis, root)
    assert thread.agent == "incident"
    prefetched = [e for e in thread.events if isinstance(e, ToolCall) and e.source == "runtime"]
    assert [e.intent for e in prefetched] == ["list_recent_deploys", "list_open_incidents"]
    page = [m for m in bot_replies(slack, DEPLOYS, root) if "hitl_take" in str(m.blocks)]
    assert len(page) == 1
    summary = shown_text(page[0])
    # The agent's text is escaped: its mention of the reporter shows, it does not ping.
    assert f"&lt;@{ALICE}&gt; reports: checkout is returning 500s" in summary
    assert "2.3.1 to production" in summary and "INC-7 Payments slow" in summary
    assert "rolling checkout back to 2.3.0" in summary

    await slack.click(user=CAROL, message=page[0], action_id="hitl_take")
    await bot.settle()
    await slack.post_message(user=CAROL, channel=DEPLOYS, text="yes, rollback", thread_ts=root)
    await bot.settle()

    approval = approval_message(slack, DEPLOYS, root)
    assert "Roll back checkout in production to 2.3.0" in shown_text(approval)
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert (await deployments(redis))[-1] == ("checkout", "2.3.0", "production")
    assert (
        "Rolled back checkout in production to 2.3.0" in bot_replies(slack, DEPLOYS, root)[-1].text
    )


async def test_on_call_may_decline_the_rollback(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    await seed(redis)
    bot = await make_bot(hitl_oncall=CAROL)
    root = await mention(slack, "checkout is returning 500s")
    await bot.settle()
    page = next(m for m in bot_replies(slack, DEPLOYS, root) if "hitl_take" in str(m.blocks))
    await slack.click(user=CAROL, message=page, action_id="hitl_take")
    await bot.settle()
    await slack.post_message(user=CAROL, channel=DEPLOYS, text="it's the db, on it", thread_ts=root)
    await bot.settle()
    assert "it's yours from here" in bot_replies(slack, DEPLOYS, root)[-1].text
    assert len(await deployments(redis)) == 2  # only the seeded ones


async def test_the_provider_sees_the_prefetched_facts_in_its_first_request(
    provider: FakeProvider, slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    await seed(redis)
    provider.fallback = error(500, "overloaded")
    model = client_for("openai", provider, retry=Retry(attempts=1, base_delay=0.001))
    try:
        bot = await make_bot(model=model)
        root = await mention(slack, "checkout is returning 500s")
        await bot.settle()
    finally:
        await model.aclose()

    first = context_sent(provider.requests[0].json)
    assert "<list_recent_deploys_result>" in first and "version: 2.3.1" in first
    assert "<list_open_incidents_result>" in first and "INC-7" in first
    thread = await load_thread(redis, root)
    results = [e.intent for e in thread.events if isinstance(e, ToolResult)]
    assert results == ["list_recent_deploys", "list_open_incidents"]
    # The provider kept failing: three errors, then a person is asked to take over.
    assert len([e for e in thread.events if isinstance(e, Error)]) == 3
    assert thread.open_request() is not None and thread.open_request().intent == "escalate"
    assert len(provider.requests) == 3


async def test_a_failing_prefetch_is_an_error_in_context_not_a_crash(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(
        hitl_incidents_webhook_url="http://127.0.0.1:9/incidents",
        hitl_incidents_webhook_secret="s3cret",
        hitl_oncall=CAROL,
    )
    root = await mention(slack, "checkout is returning 500s")
    await bot.settle()
    thread = await load_thread(redis, root)
    errors = [e.message for e in thread.events if isinstance(e, Error)]
    assert errors == [
        "list_open_incidents failed: RuntimeError: incidents webhook unreachable: ConnectError"
    ]
    # On-call is paged anyway, and told what could not be fetched.
    page = [m for m in bot_replies(slack, DEPLOYS, root) if "hitl_take" in str(m.blocks)]
    assert len(page) == 1 and "Open incidents: could not be fetched" in shown_text(page[0])
