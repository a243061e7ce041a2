"""Separation of duties through signed Slack requests (and the thread API) with real Redis:
nobody approves a call they gain from, a quorum counts only eligible people, and a revocation
runs at once only for the grantee, the resource's owner or an approver."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, MakeBot
from tests.support import (
    DANA,
    OWNERS,
    approval_message,
    bot_replies,
    has_buttons,
    load_thread,
    mention,
)
from tools.access import ACCESS_TOOLS, GrantAccess, SimulatedAccess

GAIN = "you would gain from this call"
GRANT_DANA = f"give <@{DANA}> read access to billing-db for 2 days because she is on call"
REVOKE_DANA = f"revoke <@{DANA}> access to billing-db"
DBAS = "S0DBAS"
TOKEN = "test-api-token"


def dana_joins(slack: SlackEmulator) -> None:
    """Dana, the grantee, is a member of the workspace (so she can click and be told why)."""
    slack.add_user(DANA, "dana")


def access(redis: Redis) -> SimulatedAccess:
    return SimulatedAccess(simulated_store(redis, ACCESS_TOOLS))


async def statuses(redis: Redis) -> list[str]:
    """The status of every simulated grant: active or revoked."""
    return [str(grant["status"]) for grant in await access(redis).grants()]


async def seed_grant(redis: Redis) -> None:
    """Dana holds read access to billing-db already (the access system's state)."""
    grant = GrantAccess(
        user=DANA, resource="billing-db", level="read", duration_hours=48, justification="on call"
    )
    await access(redis).grant(grant, expires_at=utcnow() + timedelta(days=2), idempotency_key="s")


async def test_a_grantee_who_owns_the_resource_cannot_approve_their_own_grant(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    dana_joins(slack)
    # Dana is one of the resource's owners, so she is among the people the card names.
    slack.add_usergroup(DBAS, [CAROL, DANA])
    bot = await make_bot(hitl_resource_owners={"billing-db": DBAS})
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    await slack.click(user=DANA, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert slack.ephemerals[-1].user == DANA and GAIN in slack.ephemerals[-1].text
    assert await access(redis).grants() == []
    assert has_buttons(approval_message(slack, DEPLOYS, root))

    await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await statuses(redis) == ["active"]
    assert "Granted" in bot_replies(slack, DEPLOYS, root)[-1].text


async def test_with_a_quorum_of_two_the_grantees_vote_does_not_count(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    dana_joins(slack)
    policy = tmp_path / "policy.yml"
    policy.write_text(
        f"rules:\n  - tool: grant_access\n    approvers: [{BOB}, {CAROL}, {DANA}]\n    quorum: 2\n"
    )
    bot = await make_bot(hitl_policy_file=policy)
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)

    await slack.click(user=DANA, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert GAIN in slack.ephemerals[-1].text
    await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await access(redis).grants() == []  # one eligible approval of the two needed
    thread = await load_thread(redis, root)
    request = thread.open_request()
    assert request is not None
    assert [a.user for a in thread.approvals(request.call_id)] == [CAROL]

    await slack.click(user=BOB, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await statuses(redis) == ["active"]


async def test_a_grantee_approving_through_the_api_is_refused_the_same_way(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    dana_joins(slack)
    slack.add_usergroup(DBAS, [CAROL, DANA])
    bot = await make_bot(hitl_resource_owners={"billing-db": DBAS}, hitl_api_token=TOKEN)
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    thread = await load_thread(redis, root)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=f"{bot.server.url}/api", headers=headers) as client:
        own = await client.post(
            f"/threads/{thread.id}/respond", json={"user": DANA, "approved": True}
        )
        assert own.status_code == 202  # accepted, then refused by policy like a click
        await bot.settle()
        assert await access(redis).grants() == []
        assert slack.ephemerals[-1].user == DANA and GAIN in slack.ephemerals[-1].text

        owner = await client.post(
            f"/threads/{thread.id}/respond", json={"user": CAROL, "approved": True}
        )
        assert owner.status_code == 202
        await bot.settle()
    assert await statuses(redis) == ["active"]


async def test_a_strangers_revoke_waits_for_the_owner(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    dana_joins(slack)
    await seed_grant(redis)
    bot = await make_bot(hitl_resource_owners=OWNERS)
    root = await mention(slack, REVOKE_DANA, user=MALLORY)
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    assert await statuses(redis) == ["active"]

    # The stranger cannot approve their own request; the grantee does not decide it either.
    for user in (MALLORY, DANA):
        await slack.click(user=user, message=approval, action_id="hitl_approve")
        await bot.settle()
        assert slack.ephemerals[-1].user == user and "can't approve" in slack.ephemerals[-1].text
    assert await statuses(redis) == ["active"]

    await slack.click(user=CAROL, message=approval, action_id="hitl_approve")
    await bot.settle()
    assert await statuses(redis) == ["revoked"]
    assert "Revoked" in bot_replies(slack, DEPLOYS, root)[-1].text


@pytest.mark.parametrize("user", [DANA, CAROL, BOB], ids=["grantee", "owner", "approver"])
async def test_the_grantee_the_owner_and_an_approver_revoke_at_once(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, user: str
) -> None:
    dana_joins(slack)
    await seed_grant(redis)
    bot = await make_bot(hitl_resource_owners=OWNERS)
    root = await mention(slack, REVOKE_DANA, user=user)
    await bot.settle()
    assert await statuses(redis) == ["revoked"]
    assert not any(has_buttons(m) for m in bot_replies(slack, DEPLOYS, root))


async def test_a_member_of_an_approver_group_revokes_at_once_and_others_do_not(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    dana_joins(slack)
    slack.add_usergroup("S0SRE", [BOB])
    await seed_grant(redis)
    bot = await make_bot(approvers=frozenset({"S0SRE"}))
    stranger = await mention(slack, REVOKE_DANA, user=ALICE)
    await bot.settle()
    assert approval_message(slack, DEPLOYS, stranger) and await statuses(redis) == ["active"]

    await mention(slack, REVOKE_DANA, user=BOB)
    await bot.settle()
    assert await statuses(redis) == ["revoked"]


async def test_the_revocation_on_expiry_still_runs_without_approval(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    dana_joins(slack)
    # Alice, who asks for the grant, has no authority over billing-db; the expiry is code's.
    bot = await make_bot(hitl_resource_owners=OWNERS)
    root = await mention(slack, GRANT_DANA, user=ALICE)
    await bot.settle()
    await slack.click(
        user=CAROL, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert await statuses(redis) == ["active"]

    assert await Deadlines(redis).fire_due(utcnow() + timedelta(days=2, minutes=1)) >= 1
    await bot.settle()
    assert await statuses(redis) == ["revoked"]
    assert not any(has_buttons(m) for m in bot_replies(slack, DEPLOYS, root))


async def test_an_owner_cannot_edit_a_grant_into_one_for_themselves_and_approve_it(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    dana_joins(slack)
    slack.add_usergroup(DBAS, [CAROL, DANA])
    bot = await make_bot(hitl_resource_owners={"billing-db": DBAS})
    root = await mention(
        slack, f"give <@{MALLORY}> read access to billing-db for 2 days because of the audit"
    )
    await bot.settle()
    await slack.click(
        user=DANA, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(DANA)))
    (modal,) = slack.open_views(DANA)
    await slack.submit_view(user=DANA, view=modal, values={"user": {"user": DANA}})
    await bot.settle()
    assert await access(redis).grants() == []
    assert slack.ephemerals[-1].user == DANA and GAIN in slack.ephemerals[-1].text


async def test_a_grantee_named_as_text_is_never_taken_so_the_owner_cannot_grant_herself(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    """`@dana` typed as text (Slack turns a picked person into `<@U…>`) names nobody for
    certain: taken as the grantee "dana", Dana (U0DANA), who owns the resource, would not be
    recognised as its beneficiary and could approve her own admin grant."""
    dana_joins(slack)
    bot = await make_bot(hitl_resource_owners={"billing-db": DANA})
    root = await mention(slack, "give @dana admin access to billing-db for 4 hours because test")
    await bot.settle()
    (reply,) = bot_replies(slack, DEPLOYS, root)
    assert "Mention the person instead" in reply.text and not has_buttons(reply)

    # Nor can an edit rename a grantee to a name: the form refuses it.
    root = await mention(
        slack, f"give <@{BOB}> read access to billing-db for 4 hours because on call"
    )
    await bot.settle()
    await slack.click(
        user=DANA, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(DANA)))
    (modal,) = slack.open_views(DANA)
    await slack.submit_view(user=DANA, view=modal, values={"user": {"user": "dana"}})
    assert not modal.closed and "user" in modal.errors
    assert await bot.settle() == 0
    assert await access(redis).grants() == []
