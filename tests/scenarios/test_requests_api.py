"""The human-contact requests API (issue 14, items 1 and 2): any caller asks a person in Slack
through `/api/requests`, reads or long-polls the decision, and is called back by a signed
webhook, delivered once and retried through the outbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agents.runtime import keys
from agents.runtime.deadlines import Deadlines
from agents.runtime.events import utcnow
from bot.api import openapi_schema
from bot.emulator.server import SlackEmulator
from bot.serving import RunningServer, start_server
from tests.conftest import ALICE, BOB, CAROL, DEPLOYS, BotProcess, MakeBot
from tests.support import approval_message, asked, bot_replies, has_buttons, reject, shown_text
from tools.webhook import verify

TOKEN = "test-api-token"
CI = "ci-secret-0123456789abcdef"
SECRET = "callback-secret-0123456789"
VIEW_FIELDS = {"id", "kind", "status", "decisions", "answer", "arguments", "receipt", "url"}
"""Every field of a request as GET shows it (each present, null when empty)."""


def api(bot: BotProcess, token: str = TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{bot.server.url}/api", headers={"Authorization": f"Bearer {token}"}
    )


def approval(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "approval",
        "channel": DEPLOYS,
        "requested_by": ALICE,
        "summary": "Drop the staging cache",
        "action": {"name": "drop_cache", "arguments": {"env": "staging", "keys": 42}},
    } | extra


@dataclass
class Receiver:
    """A real HTTP server that takes decision webhooks; `fail` answers 500 that many times."""

    url: str = ""
    fail: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    tries: int = 0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        state.tries += 1
        if state.fail > 0:
            state.fail -= 1
            return JSONResponse({"error": "down"}, 500)
        state.received.append((dict(request.headers), await request.body()))
        return JSONResponse({"ok": True})

    server: RunningServer = await start_server(
        Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    )
    state.url = f"{server.url}/hook"
    yield state
    await server.stop()


async def retry_until(bot: BotProcess, redis: Redis, receiver: Receiver, tries: int) -> None:
    """Let the outbox's planned retries (1 s, 2 s... of real time: it checks its own clock) run
    until the receiver has been tried `tries` times."""
    async with asyncio.timeout(15):
        while receiver.tries < tries:
            await asyncio.sleep(0.2)
            await Deadlines(redis).fire_due(utcnow())
            await bot.settle()


async def test_an_api_request_is_a_card_a_click_settles_and_the_webhook_reports_once(
    slack: SlackEmulator, make_bot: MakeBot, receiver: Receiver
) -> None:
    bot = await make_bot(
        hitl_api_token=TOKEN,
        hitl_api_tokens=f"ci={CI}:request",
        hitl_callback_secret=SECRET,
        hitl_receipt_secret="receipt-secret",
    )
    async with api(bot, CI) as client:
        created = await client.post("/requests", json=approval(callback_url=receiver.url))
        assert created.status_code == 201, created.text
        made = created.json()
        assert made["status"] == "waiting" and made["url"] is None
        request_id = made["id"]
        await bot.settle()

        (root,) = asked(slack, DEPLOYS)
        assert f"<@{ALICE}> (via API token ci): Drop the staging cache" in root.text
        card = approval_message(slack, DEPLOYS, root.ts)
        shown = shown_text(card)
        assert "drop_cache" in shown and "staging" in shown and "42" in shown
        got = (await client.get(f"/requests/{request_id}")).json()
        assert got["status"] == "waiting"
        assert got["url"].endswith(f"/archives/{DEPLOYS}/p{card.ts.replace('.', '')}")

        # A long-poll returns as soon as the decision lands.
        poll = asyncio.create_task(client.get(f"/requests/{request_id}?wait=30"))
        await asyncio.sleep(0.3)
        assert not poll.done()
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        polled = (await asyncio.wait_for(poll, 10)).json()

    assert polled["status"] == "approved"
    assert [(d["user"], d["approved"]) for d in polled["decisions"]] == [(BOB, True)]
    assert polled["arguments"] == {"env": "staging", "keys": 42}
    assert polled["receipt"] is not None  # the webhook's body below carries it too
    assert set(polled) == VIEW_FIELDS
    decided = slack.find_message(DEPLOYS, card.ts)
    assert not has_buttons(decided) and f"Approved by <@{BOB}>" in shown_text(decided)
    assert bot_replies(slack, DEPLOYS, root.ts)[-1].text.startswith("Approved.")

    await bot.settle()
    (headers, body) = receiver.received[0]
    assert len(receiver.received) == 1
    assert verify(
        SECRET,
        timestamp=headers["x-hitl-timestamp"],
        body=body,
        signature=headers["x-hitl-signature"],
    )
    assert headers["x-hitl-delivery"] == request_id
    assert json.loads(body) | {"url": None} == polled | {"url": None}


async def test_the_token_that_asked_cannot_approve_its_request(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        request_id = (await client.post("/requests", json=approval())).json()["id"]
        await bot.settle()
        answered = await client.post(
            f"/threads/{request_id}/respond", json={"user": BOB, "approved": True}
        )
        assert answered.status_code == 202
        await bot.settle()
        assert (await client.get(f"/requests/{request_id}")).json()["status"] == "waiting"


async def test_a_failing_receiver_is_retried_then_recorded_failed(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis, receiver: Receiver
) -> None:
    bot = await make_bot(
        hitl_api_token=TOKEN, hitl_callback_secret=SECRET, hitl_callback_attempts=3
    )
    receiver.fail = 1
    async with api(bot) as client:
        first = (await client.post("/requests", json=approval(callback_url=receiver.url))).json()
        await bot.settle()
        (root,) = asked(slack, DEPLOYS)
        await slack.click(
            user=BOB, message=approval_message(slack, DEPLOYS, root.ts), action_id="hitl_approve"
        )
        await bot.settle()
        assert receiver.tries == 1 and receiver.received == []
        # A receiver that is down holds back no message of the thread.
        assert bot_replies(slack, DEPLOYS, root.ts)[-1].text.startswith("Approved.")
        await retry_until(bot, redis, receiver, 2)
        assert receiver.tries == 2 and len(receiver.received) == 1
        assert (await client.get(f"/requests/{first['id']}")).json()["status"] == "approved"

        # A receiver that never answers well: after the last try, recorded as failed.
        receiver.fail = 100
        second = await client.post(
            "/requests", json=approval(callback_url=receiver.url, summary="Again")
        )
        second_id = second.json()["id"]
        await bot.settle()
        root2 = asked(slack, DEPLOYS)[-1]
        await reject(
            slack,
            user=BOB,
            message=approval_message(slack, DEPLOYS, root2.ts),
            reason="not today",
        )
        await bot.settle()
        await retry_until(bot, redis, receiver, 5)
        # Nothing more is planned: no fourth try will come.
        assert await redis.zcard(keys.deadlines()) == 0
        rejected = (await client.get(f"/requests/{second_id}")).json()
        assert rejected["status"] == "rejected"
        assert rejected["decisions"][0] | {"at": None} == {
            "user": BOB,
            "approved": False,
            "reason": "not today",
            "at": None,
        }
        assert receiver.tries == 2 + 3 and len(receiver.received) == 1
        detail = (await client.get(f"/threads/{second_id}")).json()
    failed = [e for e in detail["events"] if e["type"] == "error" and e["scope"] == "delivery"]
    assert len(failed) == 1 and "decision webhook" in failed[0]["message"]
    async with httpx.AsyncClient(base_url=bot.server.url) as plain:
        metrics = (await plain.get("/metrics")).text
    assert 'hitl_callback_deliveries_total{outcome="failed"} 1.0' in metrics


async def test_the_same_idempotency_key_is_the_same_request(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        first = await client.post("/requests", json=approval(idempotency_key="deploy-77"))
        again = await client.post("/requests", json=approval(idempotency_key="deploy-77"))
        other = await client.post("/requests", json=approval(idempotency_key="deploy-78"))
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"] != other.json()["id"]
    await bot.settle()
    roots = asked(slack, DEPLOYS)
    assert len(roots) == 2
    async with api(bot) as client:
        listed = (await client.get("/requests?status=waiting")).json()
    assert [r["id"] for r in listed] == [other.json()["id"], first.json()["id"]]


async def test_callers_racing_with_one_idempotency_key_make_one_request_and_one_message(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        body = approval(idempotency_key="deploy-79")
        answers = await asyncio.gather(*(client.post("/requests", json=body) for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    await bot.settle()
    roots = asked(slack, DEPLOYS)
    assert len(roots) == 1


async def test_cancel_stops_the_request_and_its_card(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        request_id = (await client.post("/requests", json=approval())).json()["id"]
        await bot.settle()
        (root,) = asked(slack, DEPLOYS)
        card = approval_message(slack, DEPLOYS, root.ts)
        assert (await client.post(f"/requests/{request_id}/cancel")).status_code == 202
        await bot.settle()
        cancelled = (await client.get(f"/requests/{request_id}")).json()
        assert cancelled["status"] == "cancelled" and cancelled["decisions"] == []
        assert not has_buttons(slack.find_message(DEPLOYS, card.ts))
        again = await client.post(f"/requests/{request_id}/cancel")
        assert again.status_code == 409 and "cancelled" in again.json()["error"]
        listed = (await client.get("/requests?status=cancelled")).json()
        assert [r["id"] for r in listed] == [request_id]
        assert (await client.get("/requests?status=waiting")).json() == []


async def test_an_input_request_is_answered_in_the_thread(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    body = {
        "kind": "input",
        "channel": DEPLOYS,
        "requested_by": ALICE,
        "question": "Which region first?",
        "options": ["eu-west", "us-east"],
    }
    async with api(bot) as client:
        created = await client.post("/requests", json=body)
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        await bot.settle()
        (root,) = asked(slack, DEPLOYS)
        question = bot_replies(slack, DEPLOYS, root.ts)[-1]
        assert "Which region first?" in shown_text(question)
        await slack.click(user=ALICE, message=question, action_id="hitl_answer:1")
        await bot.settle()
        answered = (await client.get(f"/requests/{request_id}")).json()
    assert answered["kind"] == "input" and answered["status"] == "answered"
    assert answered["answer"] == "us-east" and answered["arguments"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        ({"kind": "approval", "channel": DEPLOYS, "summary": "x"}, 422, ""),
        ({**approval(), "channel": "#deploys"}, 422, "channel"),
        ({**approval(), "quorum": "2"}, 422, "quorum"),
        ({**approval(), "timeout_seconds": 5}, 422, "timeout_seconds"),
        ({"kind": "input", "channel": DEPLOYS}, 422, ""),
        ({**approval(), "surprise": 1}, 422, "surprise"),
        ({**approval(), "callback_url": "ftp://example.com/x"}, 422, "callback_url"),
        ({**approval(), "callback_url": "https://evil.example/x"}, 422, "callback_url"),
    ],
)
async def test_bad_bodies_are_refused_with_the_field_named(
    make_bot: MakeBot, body: bytes | dict[str, Any], status: int, field: str | None
) -> None:
    bot = await make_bot(
        hitl_api_token=TOKEN,
        hitl_callback_secret=SECRET,
        hitl_callback_hosts=frozenset({"127.0.0.1"}),
    )
    async with api(bot) as client:
        if isinstance(body, bytes):
            answer = await client.post("/requests", content=body)
        else:
            answer = await client.post("/requests", json=body)
    assert answer.status_code == status, answer.text
    if field is not None:
        assert field in [d["field"] for d in answer.json()["details"]]


async def test_unknown_ids_bad_waits_and_missing_scopes(make_bot: MakeBot) -> None:
    bot = await make_bot(hitl_api_token=TOKEN, hitl_api_tokens=f"ci={CI}:launch+read")
    async with api(bot) as client:
        assert (await client.get("/requests/tnope")).status_code == 404
        assert (await client.post("/requests/tnope/cancel")).status_code == 404
        request_id = (await client.post("/requests", json=approval())).json()["id"]
        for wait in ("61", "-1", "soon", "nan"):
            answer = await client.get(f"/requests/{request_id}?wait={wait}")
            assert answer.status_code == 400 and "wait" in answer.json()["error"]
        assert (await client.get("/requests?status=maybe")).status_code == 400
    async with api(bot, CI) as ci:
        refused = await ci.post("/requests", json=approval())
    assert refused.status_code == 403 and refused.json()["missing_scope"] == "request"


async def test_a_callback_needs_the_signing_secret_and_the_schema_lists_the_api(
    make_bot: MakeBot,
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        answer = await client.post("/requests", json=approval(callback_url="http://127.0.0.1/x"))
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "callback_url"
    assert "HITL_CALLBACK_SECRET" in answer.json()["details"][0]["problem"]

    schema = openapi_schema()
    validate(schema)
    assert {
        "/api/requests",
        "/api/requests/{request_id}",
        "/api/requests/{request_id}/cancel",
    } <= set(schema["paths"])
    view = schema["components"]["schemas"]["RequestView"]
    assert set(view["required"]) == VIEW_FIELDS


async def test_an_approver_edit_is_what_the_caller_gets(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        request_id = (await client.post("/requests", json=approval())).json()["id"]
        await bot.settle()
        (root,) = asked(slack, DEPLOYS)
        await slack.click(
            user=BOB, message=approval_message(slack, DEPLOYS, root.ts), action_id="hitl_edit"
        )
        await slack.wait_for(lambda: bool(slack.open_views(BOB)))
        (modal,) = slack.open_views(BOB)
        edit = {"arguments": {"arguments": '{"env": "staging", "keys": 7}'}}
        await slack.submit_view(user=BOB, view=modal, values=edit)
        assert modal.closed, modal.errors
        await bot.settle()
        approved = (await client.get(f"/requests/{request_id}")).json()
    assert approved["status"] == "approved"
    assert approved["arguments"] == {"env": "staging", "keys": 7}


async def test_the_request_names_its_own_approvers_and_expires_on_its_own_timeout(
    slack: SlackEmulator, make_bot: MakeBot, redis: Redis
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        body = approval(approvers=[CAROL], timeout_seconds=120)
        request_id = (await client.post("/requests", json=body)).json()["id"]
        await bot.settle()
        (root,) = asked(slack, DEPLOYS)
        card = approval_message(slack, DEPLOYS, root.ts)
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        assert slack.ephemerals[-1].user == BOB
        assert (await client.get(f"/requests/{request_id}")).json()["status"] == "waiting"
        await Deadlines(redis).fire_due(utcnow() + timedelta(seconds=121))
        await bot.settle()
        expired = (await client.get(f"/requests/{request_id}")).json()
    assert expired["status"] == "expired" and expired["decisions"] == []


async def test_who_gains_from_the_action_cannot_approve_it(
    slack: SlackEmulator, make_bot: MakeBot
) -> None:
    bot = await make_bot(hitl_api_token=TOKEN)
    async with api(bot) as client:
        request_id = (await client.post("/requests", json=approval(beneficiary=BOB))).json()["id"]
        await bot.settle()
        (root,) = asked(slack, DEPLOYS)
        card = approval_message(slack, DEPLOYS, root.ts)
        await slack.click(user=BOB, message=card, action_id="hitl_approve")
        await bot.settle()
        assert slack.ephemerals[-1].user == BOB
        assert (await client.get(f"/requests/{request_id}")).json()["status"] == "waiting"
        await slack.click(user=CAROL, message=card, action_id="hitl_approve")
        await bot.settle()
        assert (await client.get(f"/requests/{request_id}")).json()["status"] == "approved"
