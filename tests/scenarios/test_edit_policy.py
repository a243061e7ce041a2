"""An edit is a new proposal, and limits from the policy file (issue 12, item 3), through
signed Slack requests with real Redis: a call over a limit is never offered for approval, and an
edit is checked by policy again (limits, other rules, approvers, quorum; the editor who would
gain from it is covered in test_separation_of_duties.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from agents.runtime.events import Error, ToolCall, call_hash
from agents.runtime.jobs import Decide, JobQueue
from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from tests.conftest import BOB, CAROL, DEPLOYS, MALLORY, MakeBot
from tests.support import (
    DANA,
    OWNERS,
    approval_message,
    bot_replies,
    deployments,
    load_thread,
    mention,
)
from tools.access import ACCESS_TOOLS, SimulatedAccess

GRANT_DANA = f"give <@{DANA}> read access to billing-db for 2 days because she is on call"
LIMIT = "limits:\n  - tool: grant_access\n    when: {level: read}\n    max: {duration_hours: %d}\n"
OVER = "duration_hours 48 is over the limit of 24 for grant_access with level read"
EDIT_OVER = "duration_hours 720 is over the limit of 48 for grant_access with level read"


def policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(text)
    return path


async def grants(redis: Redis) -> list[dict[str, object]]:
    return list(await SimulatedAccess(simulated_store(redis, ACCESS_TOOLS)).grants())


async def test_a_grant_over_a_limit_is_never_offered_and_the_model_hears_why(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    slack.add_user(DANA, "dana")
    bot = await make_bot(hitl_resource_owners=OWNERS, hitl_policy_file=policy(tmp_path, LIMIT % 24))
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    thread = await load_thread(redis, root)
    assert OVER in [e.message for e in thread.events if isinstance(e, Error)]
    assert not [e for e in thread.events if isinstance(e, ToolCall) and e.terms is not None]
    assert OVER in bot_replies(slack, DEPLOYS, root)[-1].text
    assert await grants(redis) == []


async def test_an_ungated_call_over_a_limit_is_refused_the_same_way(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    slack.add_user(DANA, "dana")
    ungated = "rules:\n  - tool: grant_access\n    gated: false\n" + LIMIT % 24
    bot = await make_bot(hitl_policy_file=policy(tmp_path, ungated))
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    assert OVER in bot_replies(slack, DEPLOYS, root)[-1].text
    assert await grants(redis) == []


async def test_within_the_limit_a_grant_is_offered_and_runs(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    slack.add_user(DANA, "dana")
    bot = await make_bot(hitl_resource_owners=OWNERS, hitl_policy_file=policy(tmp_path, LIMIT % 48))
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    await slack.click(
        user=CAROL, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
    )
    await bot.settle()
    assert len(await grants(redis)) == 1


async def test_an_edit_over_a_limit_is_a_field_error_in_the_edit_form(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    slack.add_user(DANA, "dana")
    bot = await make_bot(hitl_resource_owners=OWNERS, hitl_policy_file=policy(tmp_path, LIMIT % 48))
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    await slack.click(
        user=CAROL, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(CAROL)))
    (modal,) = slack.open_views(CAROL)
    edit = {"duration_hours": {"duration_hours": "720"}}
    await slack.submit_view(user=CAROL, view=modal, values=edit)
    assert not modal.closed
    assert modal.errors["duration_hours"] == EDIT_OVER
    assert await bot.settle() == 0  # nothing was decided
    assert await grants(redis) == []


async def test_an_edit_over_a_limit_that_reaches_the_runtime_is_refused_privately(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path
) -> None:
    # A decision queued by an edge that did not check (an older version mid-deploy, say).
    slack.add_user(DANA, "dana")
    bot = await make_bot(hitl_resource_owners=OWNERS, hitl_policy_file=policy(tmp_path, LIMIT % 48))
    root = await mention(slack, GRANT_DANA)
    await bot.settle()
    thread = await load_thread(redis, root)
    request = thread.open_request()
    assert request is not None
    edited = {**request.action, "duration_hours": 720}
    decide = Decide(
        thread_id=thread.id,
        call_id=request.call_id,
        action_hash=call_hash(request.action),
        approved=True,
        user=CAROL,
        edited_action=edited,
    )
    await JobQueue(redis, consumer="old-edge").enqueue(decide)
    await bot.settle()
    assert await grants(redis) == []
    told = slack.ephemerals[-1]
    assert told.user == CAROL and EDIT_OVER in told.text


DEPLOY_RULES = {
    "gated": "rules:\n  - tool: deploy\n    when: {service: web}\n    gated: false\n",
    "approvers": (
        f"rules:\n  - tool: deploy\n    when: {{service: web}}\n    approvers: [{MALLORY}]\n"
    ),
    "quorum": "rules:\n  - tool: deploy\n    when: {service: web}\n    quorum: 2\n",
}
"""Rules the edited call (api -> web) falls under; the asked-for call falls under none."""


@pytest.mark.parametrize("rule", DEPLOY_RULES.values(), ids=DEPLOY_RULES.keys())
async def test_an_edit_under_another_rule_is_refused(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tmp_path: Path, rule: str
) -> None:
    bot = await make_bot(hitl_policy_file=policy(tmp_path, rule))
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    await slack.click(
        user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_edit"
    )
    await slack.wait_for(lambda: bool(slack.open_views(BOB)))
    (modal,) = slack.open_views(BOB)
    await slack.submit_view(user=BOB, view=modal, values={"service": {"service": "web"}})
    await bot.settle()
    assert await deployments(redis) == []
    told = slack.ephemerals[-1]
    assert told.user == BOB and "That edit can't be approved" in told.text
