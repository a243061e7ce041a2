"""The access agent end to end with the offline model: missing details are asked in the thread,
the resource's owner approves, the grant runs once and is revoked when it expires."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from agents.models.scripted import ScriptedModel
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import Error, ToolResult, utcnow
from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MakeBot
from tests.support import (
    DANA,
    OWNERS,
    approval_message,
    bot_replies,
    load_thread,
    mention,
    shown_text,
)
from tools.access import ACCESS_TOOLS, SimulatedAccess


async def reply(slack: SlackEmulator, root: str, text: str, *, user: str = ALICE) -> None:
    delivery = await slack.post_message(user=user, channel=DEPLOYS, text=text, thread_ts=root)
    assert all(r.status_code == 200 for r in delivery.responses)


async def test_missing_details_are_asked_the_owner_approves_and_expiry_revokes(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_resource_owners=OWNERS)
    root = await mention(slack, f"give <@{DANA}> read access to billing-db")
    await bot.settle()
    assert "For how long should" in bot_replies(slack, DEPLOYS, root)[-1].text

    await reply(slack, root, "2 days")
    await bot.settle()
    assert "Why does" in bot_replies(slack, DEPLOYS, root)[-1].text

    await reply(slack, root, "she is on call for billing this week")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    shown = shown_text(approval)
    assert "read access to billing-db for 2 days" in shown and "on call for billing" in shown
    assert await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants() == []

    # Routed to the owner: an approver who does not own the resource may not decide.
    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert slack.ephemerals[-1].user == BOB and "can't approve" in slack.ephemerals[-1].text
    assert await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants() == []

    await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
    await bot.settle()
    (grant,) = await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants()
    assert (grant["user"], grant["resource"], grant["level"], grant["status"]) == (
        DANA,
        "billing-db",
        "read",
        "active",
    )
    granted = bot_replies(slack, DEPLOYS, root)[-1].text
    assert "Granted" in granted
    # The expiry as people read it ("until Tue 02 Dec 11:50 UTC"), not an ISO timestamp.
    expires = datetime.fromisoformat(str(grant["expires_at"])).astimezone(UTC)
    assert f"until {expires:%a %d %b %H:%M} UTC" in granted
    assert not re.search(r"\d{4}-\d\d-\d\dT", granted)

    # Nothing is due before the grant expires; after, the revocation runs exactly once.
    assert await Deadlines(redis).fire_due(utcnow() + timedelta(days=1)) == 0
    assert await Deadlines(redis).fire_due(utcnow() + timedelta(days=2, minutes=1)) >= 1
    await bot.settle()
    (grant,) = await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants()
    assert grant["status"] == "revoked"
    assert "Revoked" in bot_replies(slack, DEPLOYS, root)[-1].text
    thread = await load_thread(redis, root)
    revocations = [
        e for e in thread.events if isinstance(e, ToolResult) and e.intent == "revoke_access"
    ]
    assert len(revocations) == 1


async def test_a_complete_request_goes_straight_to_the_owner_and_rejection_grants_nothing(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_resource_owners=OWNERS)
    root = await mention(
        slack, f"give <@{DANA}> write access to billing-db for 4 hours because of the migration"
    )
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    assert "write access to billing-db for 4 hours" in shown_text(approval)

    await slack.click(user=CAROL, message=approval, action_id="hitl_reject")
    await slack.wait_for(lambda: bool(slack.open_views(CAROL)))
    (modal,) = slack.open_views(CAROL)
    await slack.submit_view(user=CAROL, view=modal, values={"reason": {"reason": "use read"}})
    await bot.settle()
    assert await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants() == []
    last = bot_replies(slack, DEPLOYS, root)[-1].text
    assert "no access was granted" in last and "use read" in last


async def test_a_failing_grant_is_an_error_the_model_sees_and_nothing_is_recorded(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    grant = {
        "intent": "grant_access",
        "user": DANA,
        "resource": "billing-db",
        "level": "read",
        "duration_hours": 48,
        "justification": "on call",
    }
    model = ScriptedModel(
        {"intent": "request_approval", "action": grant, "summary": "Grant dana read"},
        lambda request: (
            '{"intent": "done_for_now", "message": "The grant failed; ask the DBA."}'
            if "<error>" in request.context and "grant_access failed" in request.context
            else '{"intent": "done_for_now", "message": "unexpected"}'
        ),
    )
    # The access webhook is down: nothing listens on this port.
    bot = await make_bot(
        model=model,
        hitl_resource_owners=OWNERS,
        hitl_access_webhook_url="http://127.0.0.1:9/hook",
        hitl_access_webhook_secret="s3cret",
    )
    root = await mention(slack, f"give <@{DANA}> read access to billing-db for 2 days")
    await bot.settle()
    await slack.click(
        user=CAROL, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()

    thread = await load_thread(redis, root)
    errors = [e.message for e in thread.events if isinstance(e, Error)]
    assert errors == ["grant_access failed: RuntimeError: access webhook unreachable: ConnectError"]
    assert bot_replies(slack, DEPLOYS, root)[-1].text == "The grant failed; ask the DBA."
    assert await Deadlines(redis).fire_due(utcnow() + timedelta(days=30)) == 0  # no revoke planned
