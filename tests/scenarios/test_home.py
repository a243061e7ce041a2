"""The approvals inbox in App Home (issue 13, item 1).

Opening the Home tab (a signed `app_home_opened`) publishes "Waiting for you": every open
approval the viewer may decide, across channels, with the card's own Approve and Reject (same
`Decide` job, same policy and argument hash) and a link to the thread; the viewer's own
requests and recent decisions below. A request that opens or settles publishes the Home of
the people it concerns again. A Home click counts only in the view the bot published for that
person, offering that request. Everything goes through the real Bolt app, signed like Slack,
with a real Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from redis.asyncio import Redis

from agents.runtime.events import ApprovalDecision, ToolCall
from bot.emulator.server import SlackEmulator
from bot.emulator.state import View
from bot.slack import blocks, home_view, messages
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, BotProcess, MakeBot
from tests.support import DANA, OWNERS, approval_message, deployments, load_thread, mention

FORM = "application/x-www-form-urlencoded"


async def request_of(redis: Redis, root: str) -> ToolCall:
    thread = await load_thread(redis, root)
    return next(
        e for e in thread.events if isinstance(e, ToolCall) and e.intent == "request_approval"
    )


def listed(view: View) -> list[str]:
    """The call ids of the requests a Home view offers (its request action blocks)."""
    return [block.rpartition(":")[2] for block in request_blocks(view)]


def request_blocks(view: View) -> list[str]:
    """The block ids of a Home view's request actions: `home:<thread id>:<call id>`."""
    return [
        str(b["block_id"]) for b in view.blocks if str(b.get("block_id", "")).startswith("home:")
    ]


def text_of(view: View) -> str:
    return json.dumps(view.blocks)


async def reply(slack: SlackEmulator, root: str, text: str) -> None:
    delivery = await slack.post_message(user=ALICE, channel=DEPLOYS, text=text, thread_ts=root)
    assert all(r.status_code == 200 for r in delivery.responses)


async def open_home(slack: SlackEmulator, bot: BotProcess, user: str) -> View:
    response = await slack.open_home(user)
    assert response.status_code == 200
    await bot.settle()
    return slack.home(user)


async def decisions(redis: Redis, root: str) -> list[ApprovalDecision]:
    thread = await load_thread(redis, root)
    return [e for e in thread.events if isinstance(e, ApprovalDecision)]


async def test_home_lists_what_the_viewer_may_decide_and_nothing_else(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_resource_owners=OWNERS)
    deploy_root = await mention(slack, "deploy api 1.4.2 to production")
    access_root = await mention(slack, f"give <@{DANA}> read access to billing-db for 2 days")
    await bot.settle()
    await reply(slack, access_root, "she is on call for billing this week")
    await bot.settle()
    deploy = await request_of(redis, deploy_root)
    access = await request_of(redis, access_root)

    bob = await open_home(slack, bot, BOB)
    carol = await open_home(slack, bot, CAROL)
    alice = await open_home(slack, bot, ALICE)
    mallory = await open_home(slack, bot, MALLORY)

    assert listed(bob) == [deploy.call_id]  # not the grant: billing-db's owner decides it
    assert sorted(listed(carol)) == sorted([deploy.call_id, access.call_id])
    assert listed(alice) == []  # her own requests are not hers to approve...
    assert home_view.MINE_HEADER in text_of(alice)
    assert "1.4.2" in text_of(alice) and home_view.WAITING in text_of(alice)  # ...but listed
    assert listed(mallory) == [] and home_view.NOTHING_WAITING in text_of(mallory)
    # What, who asked, by when (a Slack date token), and a link to the thread.
    shown = text_of(bob)
    assert "api" in shown and "1.4.2" in shown and f"<@{ALICE}>" in shown
    assert "<!date^" in shown
    assert f"https://sandbox.slack.com/archives/{DEPLOYS}/p{deploy_root.replace('.', '')}" in shown


async def test_approve_from_home_settles_once_and_the_request_leaves_the_home(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    call = await request_of(redis, root)
    await open_home(slack, bot, BOB)
    await open_home(slack, bot, CAROL)
    card = approval_message(slack, DEPLOYS, root)

    (block,) = request_blocks(slack.home(BOB))
    assert block.endswith(f":{call.call_id}")
    answer = await slack.click_home(user=BOB, block_id=block, action_id=blocks.APPROVE_ACTION)
    assert answer.status_code == 200
    await slack.click(user=BOB, message=card, action_id=blocks.APPROVE_ACTION)  # and the card
    await bot.settle()

    assert len([d for d in await decisions(redis, root) if d.approved]) == 1
    assert len(await deployments(redis)) == 1
    # Published again when it settled: nobody is offered it any more.
    assert listed(slack.home(BOB)) == [] and listed(slack.home(CAROL)) == []
    assert "approved" in text_of(slack.home(BOB))  # among the recent decisions


async def test_reject_from_home_opens_the_reason_modal(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    call = await request_of(redis, root)
    await open_home(slack, bot, BOB)

    (block,) = request_blocks(slack.home(BOB))
    assert block.endswith(f":{call.call_id}")
    await slack.click_home(user=BOB, block_id=block, action_id=blocks.REJECT_ACTION)
    [modal] = slack.open_views(BOB)
    assert modal.callback_id == blocks.REJECT_VIEW
    await slack.submit_view(
        user=BOB, view=modal, values={blocks.REASON_BLOCK: {"reason": "freeze week"}}
    )
    await bot.settle()

    [decision] = await decisions(redis, root)
    assert not decision.approved and decision.reason == "freeze week"
    assert await deployments(redis) == []
    assert listed(slack.home(BOB)) == []


async def test_a_home_click_the_bot_never_published_is_refused(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    call = await request_of(redis, root)
    bob_home = await open_home(slack, bot, BOB)
    value = blocks.ref_for((await load_thread(redis, root)).id, call).encode()

    # A forged Home view (an id the bot never published) carrying the real button value.
    forged: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": BOB, "username": "bob", "name": "bob", "team_id": "T0SANDBOX"},
        "api_app_id": "A0HITLAPP",
        "container": {"type": "view", "view_id": "V0FORGED"},
        "trigger_id": "1.T0SANDBOX.x",
        "team": {"id": "T0SANDBOX", "domain": "sandbox"},
        "view": {"id": "V0FORGED", "type": "home", "blocks": []},
        "actions": [
            {"type": "button", "action_id": blocks.APPROVE_ACTION, "value": value, "block_id": "x"}
        ],
    }
    body = urlencode({"payload": json.dumps(forged)})
    assert (await slack.deliver(body, content_type=FORM)).status_code == 200
    # Bob's real Home view, clicked as Mallory: the bot published it for Bob, not for her.
    mallory_click = forged | {
        "user": {"id": MALLORY, "username": "mallory", "name": "mallory", "team_id": "T0SANDBOX"},
        "container": {"type": "view", "view_id": bob_home.id},
        "view": {"id": bob_home.id, "type": "home", "blocks": []},
    }
    body = urlencode({"payload": json.dumps(mallory_click)})
    assert (await slack.deliver(body, content_type=FORM)).status_code == 200
    await bot.settle()

    assert await decisions(redis, root) == []
    assert await deployments(redis) == []
    # Each is told in the app's DM (Bob's also holds his DM copy of the card).
    for user in (BOB, MALLORY):
        assert [m.text for m in slack.dm(user)].count(messages.CARD_OUT_OF_DATE) == 1


async def test_views_publish_failing_once_is_retried(
    slack: SlackEmulator, bot: BotProcess, redis: Redis
) -> None:
    await open_home(slack, bot, BOB)  # Bob has looked at his Home before
    slack.fail("views.publish", status=503)
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    call = await request_of(redis, root)
    assert listed(slack.home(BOB)) == []  # Slack did not answer: retried after a second
    await asyncio.sleep(1.2)
    await bot.settle()
    assert listed(slack.home(BOB)) == [call.call_id]
    failed = [c for c in slack.calls_to("views.publish") if c.fault]
    assert len(failed) == 1

    slack.fail("views.publish", status=500)  # and on opening the tab, once more at once
    assert (await slack.open_home(CAROL)).status_code == 200
    assert listed(slack.home(CAROL)) == [call.call_id]
