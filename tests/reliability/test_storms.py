"""Volume and duplicates: every Slack delivery retried at once against two bot processes while
Slack answers 429, and click storms on many approvals at once (one edge, three workers)."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from redis.asyncio import Redis

from agents.runtime.thread import Status
from bot.emulator.server import SlackEmulator
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, MALLORY, MakeBot
from tests.reliability.support import (
    Tally,
    all_threads,
    dead_jobs,
    decisions,
    deployed,
    duplicates,
    pending_jobs,
    post_signed,
)
from tests.support import approval_message, bot_replies, has_buttons, mention

RETRIES = ("1", "2", "3")


@pytest.mark.slow
async def test_every_event_retried_three_times_on_two_processes_runs_once(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    bots = [await make_bot(), await make_bot()]
    urls = [f"{b.server.url}/slack/events" for b in bots]
    slack.rate_limit("chat.postMessage", times=3, retry_after=1)
    runs = 40
    bodies: list[str] = []
    roots = []
    for i in range(runs):
        delivery = await slack.post_message(
            user=ALICE,
            channel=DEPLOYS,
            text=f"<@{slack.identity.bot_user_id}> deploy svc{i} 1.0.{i} to staging",
        )
        roots.append(delivery.message.ts)
        bodies += [r.request.content.decode() for r in delivery.responses]  # mention + message
        tally["events_sent"] += len(delivery.responses)
        assert [r.status_code for r in delivery.responses] == [200] * len(delivery.responses)

    async with httpx.AsyncClient(timeout=10) as client:
        retried = await asyncio.gather(
            *(
                post_signed(
                    client,
                    urls[(n + int(attempt)) % 2],
                    body,
                    headers={"X-Slack-Retry-Num": attempt, "X-Slack-Retry-Reason": "http_timeout"},
                )
                for n, body in enumerate(bodies)
                for attempt in RETRIES
            )
        )
    tally["events_sent"] += len(retried)
    tally["non_200"] = sum(r.status_code != 200 for r in retried)
    handled = await asyncio.gather(*(b.settle() for b in bots))

    rows = await deployed(redis)
    expected = {(f"svc{i}", f"1.0.{i}", "staging") for i in range(runs)}
    threads = await all_threads(redis)
    tally.update(
        runs=len(threads),
        jobs_run=sum(handled),
        deployments=len(rows),
        duplicates=duplicates(rows),
        losses=len(expected - set(rows)),
        ratelimited=sum(
            c.response.get("error") == "ratelimited" for c in slack.calls_to("chat.postMessage")
        ),
    )
    assert tally["non_200"] == 0
    assert sorted(rows) == sorted(expected)  # no duplicate, no loss
    assert len(threads) == runs and all(t.status is Status.DONE for t in threads)
    assert sum(handled) == runs  # the retries never even became jobs
    assert all(len(bot_replies(slack, DEPLOYS, root)) == 1 for root in roots)
    assert tally["ratelimited"] == 3  # Slack's 429s were hit, waited out and retried
    assert await pending_jobs(redis) == 0 and await dead_jobs(redis) == 0


@pytest.mark.slow
async def test_click_storms_on_ten_approvals_at_once_make_one_decision_each(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    approvers = [f"U0STORM{i}" for i in range(6)]
    for user in approvers:
        slack.add_user(user, user.lower())
    bots = [await make_bot(approvers=frozenset(approvers)) for _ in range(3)]
    runs = 10
    roots = [await mention(slack, f"deploy svc{i} 1.4.2 to production") for i in range(runs)]
    await bots[0].settle()
    approvals = [approval_message(slack, DEPLOYS, root) for root in roots]

    # Half the threads also get a rejection, submitted in the middle of the storm.
    modals = []
    for t in range(0, runs, 2):
        user = approvers[t // 2]  # one open modal per person
        await slack.click(user=user, message=approvals[t], action_id="hitl_reject")
        await slack.wait_for(lambda u=user: bool(slack.open_views(u)))  # type: ignore[misc]
        modals.append((user, slack.open_views(user)[-1]))
    slack.rate_limit("chat.update", times=2, retry_after=1)
    storm = [
        slack.click(user=user, message=approval, action_id="hitl_approve")
        for approval in approvals
        for user in [*approvers, ALICE, MALLORY]
    ]
    storm += [
        slack.submit_view(user=u, view=v, values={"reason": {"reason": "storm"}}) for u, v in modals
    ]
    random.Random(7).shuffle(storm)
    # All of it reaches one edge process (the emulator's events_url): 85 requests at once,
    # under a pool's worth of connections.
    responses = await asyncio.gather(*storm)
    handled = await asyncio.gather(*(b.settle() for b in bots))

    threads = await all_threads(redis)
    made = [d for t in threads for d in decisions(t)]
    rows = await deployed(redis)
    approved = {t.id for t in threads if decisions(t) and decisions(t)[0].approved}
    tally.update(
        clicks_sent=len(storm),
        runs=len(threads),
        jobs_run=sum(handled),
        decisions=len(made),
        approved=len(approved),
        deployments=len(rows),
        duplicates=duplicates(rows) + max(0, len(made) - runs),
        losses=sum(not decisions(t) for t in threads),
        refusals=len(slack.ephemerals),
    )
    assert [r.status_code for r in responses] == [200] * len(storm)
    assert all(len(decisions(t)) == 1 for t in threads)  # one each, no loss, no duplicate
    assert all(d.user in approvers for d in made)  # never the requester nor an outsider
    assert len(rows) == len(approved) and duplicates(rows) == 0
    assert not any(has_buttons(slack.find_message(DEPLOYS, a.ts)) for a in approvals)
    assert len(slack.ephemerals) == len(storm) - runs  # every other clicker was told
    assert await pending_jobs(redis) == 0 and await dead_jobs(redis) == 0


@pytest.mark.slow
async def test_150_simultaneous_clicks_on_one_process_all_get_200(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, tally: Tally
) -> None:
    bot = await make_bot()
    root = await mention(slack, "deploy api 1.4.2 to production")
    await bot.settle()
    approval = approval_message(slack, DEPLOYS, root)
    users = [BOB, CAROL, ALICE, MALLORY]
    responses = await asyncio.gather(
        *(
            slack.click(user=users[i % 4], message=approval, action_id="hitl_approve")
            for i in range(150)
        )
    )
    await bot.settle()
    tally.update(clicks_sent=150, status_500=sum(r.status_code == 500 for r in responses))
    tally["deployments"] = len(await deployed(redis))
    assert tally["deployments"] == 1
    assert [r.status_code for r in responses] == [200] * 150
