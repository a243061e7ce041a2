"""Who decides an API request, and what an approver may change (issue 14 with issue 12's rules):
a request narrows policy's terms and never loosens them, and an approver's edit changes the
arguments only, never what the action is or who gains from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from agents.runtime.events import call_hash
from agents.runtime.jobs import Decide, JobQueue
from agents.runtime.store import ThreadStore
from bot.emulator.server import Message, SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MakeBot
from tests.support import approval_message, asked

TOKEN = "test-api-token"
DANA = "U0DANA"
POLICY = f"rules:\n  - tool: external_action\n    approvers: [{BOB}, {CAROL}]\n    quorum: 1\n"


def approval(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "approval",
        "channel": DEPLOYS,
        "requested_by": ALICE,
        "summary": "Rotate the billing key",
        "action": {"name": "rotate_key", "arguments": {"key": "billing", "grace_hours": 2}},
    } | extra


def client_of(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"{url}/api", headers={"Authorization": f"Bearer {TOKEN}"})


def card(slack: SlackEmulator) -> Message:
    """The request's card: the one asking message's thread holds it."""
    (root,) = asked(slack, DEPLOYS)
    return approval_message(slack, DEPLOYS, root.ts)


def with_policy(tmp_path: Path, text: str = POLICY) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return path


async def test_a_request_may_name_approvers_only_among_those_policy_names(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN, hitl_policy_file=with_policy(tmp_path))
    async with client_of(bot.server.url) as client:
        outside = await client.post("/requests", json=approval(approvers=[DANA]))
        fewer = await client.post("/requests", json=approval(quorum=1, approvers=[CAROL]))
    assert outside.status_code == 422, outside.text
    assert outside.json()["details"][0]["field"] == "approvers"
    assert DANA in outside.json()["details"][0]["problem"]
    assert fewer.status_code == 201, fewer.text


async def test_a_request_may_ask_for_more_approvals_never_fewer(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    two = POLICY.replace("quorum: 1", "quorum: 2")
    bot = await make_bot(hitl_api_token=TOKEN, hitl_policy_file=with_policy(tmp_path, two))
    async with client_of(bot.server.url) as client:
        fewer = await client.post("/requests", json=approval(quorum=1))
        more = await client.post("/requests", json=approval(quorum=3))
    assert fewer.status_code == 422, fewer.text
    assert fewer.json()["details"][0]["field"] == "quorum"
    assert more.status_code == 201, more.text


async def test_an_approver_named_by_the_request_may_edit_its_arguments(
    slack: SlackEmulator, make_bot: MakeBot, tmp_path: Path
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN, hitl_policy_file=with_policy(tmp_path))
    async with client_of(bot.server.url) as client:
        made = await client.post("/requests", json=approval(approvers=[CAROL]))
        await bot.settle()
        await slack.click(user=CAROL, message=card(slack), action_id="hitl_edit")
        await slack.wait_for(lambda: bool(slack.open_views(CAROL)))
        (modal,) = slack.open_views(CAROL)
        edit = {"arguments": {"arguments": '{"key": "billing", "grace_hours": 1}'}}
        await slack.submit_view(user=CAROL, view=modal, values=edit)
        assert modal.closed, modal.errors
        await bot.settle()
        shown = (await client.get(f"/requests/{made.json()['id']}")).json()
    assert shown["status"] == "approved", slack.ephemerals
    assert shown["arguments"] == {"key": "billing", "grace_hours": 1}


async def test_the_edit_form_offers_the_arguments_only_and_a_renamed_action_is_refused(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with client_of(bot.server.url) as client:
        made = await client.post("/requests", json=approval(beneficiary=DANA))
        request_id = made.json()["id"]
        await bot.settle()
        await slack.click(user=BOB, message=card(slack), action_id="hitl_edit")
        await slack.wait_for(lambda: bool(slack.open_views(BOB)))
        (modal,) = slack.open_views(BOB)
        inputs = {b["block_id"] for b in modal.blocks if b["type"] == "input"}
        assert inputs == {"arguments"}
        # A decision queued by an edge that did not check (an older version mid-deploy, say):
        # approving another action, or the same one for another beneficiary, is refused.
        thread = await ThreadStore(redis).load(request_id)
        assert thread is not None
        request = thread.open_request()
        assert request is not None
        queue = JobQueue(redis, consumer="old-edge")
        for changed in ({"name": "drop_database"}, {"beneficiary_user": "U0EVE"}):
            decide = Decide(
                thread_id=request_id,
                call_id=request.call_id,
                action_hash=call_hash(request.action),
                approved=True,
                user=BOB,
                edited_action={**request.action, **changed},
            )
            await queue.enqueue(decide)
            await bot.settle()
            told = slack.ephemerals[-1]
            assert told.user == BOB and "an edit can't change" in told.text, told.text
        shown = (await client.get(f"/requests/{request_id}")).json()
    assert shown["status"] == "waiting" and shown["decisions"] == []


async def test_a_question_nobody_could_answer_is_refused(make_bot: MakeBot) -> None:
    # No HITL_APPROVERS: a question is answered by its requester or the approvers it names.
    bot = await make_bot(hitl_api_token=TOKEN, approvers=frozenset())
    question = {"kind": "input", "channel": DEPLOYS, "question": "Which region?"}
    async with client_of(bot.server.url) as client:
        nobody = await client.post("/requests", json=question | {"requested_by": "ci-bot"})
        requester = await client.post("/requests", json=question | {"requested_by": ALICE})
        named = await client.post("/requests", json=question | {"approvers": [BOB]})
    assert nobody.status_code == 422, nobody.text
    assert nobody.json()["details"][0]["field"] == "approvers"
    assert (requester.status_code, named.status_code) == (201, 201)


async def test_when_slack_refuses_the_asking_message_the_caller_is_told_and_may_retry(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    body = approval(idempotency_key="build-7")
    async with client_of(bot.server.url) as client:
        slack.refuse("chat.postMessage", "not_in_channel", times=1)
        refused = await client.post("/requests", json=body)
        slack.fail("chat.postMessage", status=503)
        failed = await client.post("/requests", json=body)
        retried = await client.post("/requests", json=body)
        again = await client.post("/requests", json=body)
    assert (refused.status_code, failed.status_code) == (502, 502)
    assert "not_in_channel" in refused.json()["error"]
    # Nothing was kept of the refused tries: the same key makes the request once, then names it.
    assert (retried.status_code, again.status_code) == (201, 200)
    assert retried.json()["id"] == again.json()["id"]
    await bot.settle()
    assert len(asked(slack, DEPLOYS)) == 1
    assert card(slack) is not None
