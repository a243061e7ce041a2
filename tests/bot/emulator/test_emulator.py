"""The Slack emulator against the real slack_sdk client and a signature-checking receiver.
Long (past ~500 lines) because one set of fixtures serves every emulator feature."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.emulator.server import IncompleteView, Message, SlackEmulator, View
from bot.emulator.ui import mention_markup
from bot.serving import start_server

SECRET = "test-signing-secret"
VERIFIER = SignatureVerifier(SECRET)
APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* api to prod?"}},
    {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "style": "primary",
                "value": "req-42",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "button",
                "action_id": "reject",
                "style": "danger",
                "value": "req-42",
                "text": {"type": "plain_text", "text": "Reject"},
            },
        ],
    },
]


@dataclass
class Received:
    body: str
    headers: dict[str, str]

    @property
    def signed(self) -> bool:
        return bool(VERIFIER.is_valid_request(self.body, self.headers))

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(parse_qs(self.body)["payload"][0])
        return data


Answer = Callable[[Received], Awaitable[Response]]


@dataclass
class Receiver:
    """A stand-in for the bot's /slack/events endpoint that records what arrives; `answers`
    (used up in order) say what to answer, else an empty 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def events(request: Request) -> Response:
        received = Received((await request.body()).decode(), dict(request.headers))
        rec.requests.append(received)
        if rec.answers:
            return await rec.answers.pop(0)(received)
        return PlainTextResponse("")

    server = await start_server(
        Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    )
    rec.url = f"{server.url}/slack/events"
    yield rec
    await server.stop()


@pytest.fixture
async def emu(receiver: Receiver) -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(signing_secret=SECRET, events_url=receiver.url)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-sandbox", base_url=emu.api_url)


async def post_approval(client: AsyncWebClient, emu: SlackEmulator) -> Message:
    resp = await client.chat_postMessage(
        channel="C0DEPLOYS", text="Approve?", blocks=APPROVAL_BLOCKS
    )
    return emu.find_message("C0DEPLOYS", resp["ts"])


async def test_post_update_and_ephemeral_round_trip(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(
        channel="C0GENERAL", text="hello", blocks=APPROVAL_BLOCKS
    )
    assert posted["channel"] == "C0GENERAL"
    assert posted["message"]["bot_id"] == "BHITLBOT"
    reply = await client.chat_postMessage(
        channel="C0GENERAL", text="in thread", thread_ts=posted["ts"]
    )

    root = emu.find_message("C0GENERAL", posted["ts"])
    assert (root.user, root.bot_id, root.thread_ts, root.blocks) == (
        "UHITLBOT",
        "BHITLBOT",
        None,
        APPROVAL_BLOCKS,
    )
    assert [m.ts for m in emu.thread("C0GENERAL", posted["ts"])] == [posted["ts"], reply["ts"]]
    assert float(reply["ts"]) > float(posted["ts"])

    # Like Slack, an update with text only keeps the blocks.
    updated = await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="approved")
    assert updated["text"] == "approved"
    assert root.text == "approved" and root.edited and root.blocks == APPROVAL_BLOCKS
    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="done", blocks=[])
    assert root.blocks == []

    eph = await client.chat_postEphemeral(channel="C0GENERAL", user="U0BOB", text="psst")
    assert [(e.user, e.text, e.ts) for e in emu.ephemerals] == [
        ("U0BOB", "psst", eph["message_ts"])
    ]
    assert emu.calls_to("chat.postMessage")[0].args["channel"] == "C0GENERAL"
    assert "token" not in emu.calls_to("chat.postMessage")[0].args
    assert [c.method for c in emu.calls] == [
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
        "chat.update",
        "chat.postEphemeral",
    ]


async def test_auth_test_and_users_info(client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("UHITLBOT", "BHITLBOT", "T0SANDBOX")
    bob = await client.users_info(user="U0BOB")
    assert bob["user"]["name"] == "bob"
    assert bob["user"]["profile"]["display_name"] == "bob"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0GENERAL"}, "no_text"),
        ({"channel": "C0GENERAL", "blocks": [{"text": "no type"}]}, "invalid_blocks"),
        ({"channel": "C0GENERAL", "text": "x", "thread_ts": "1.000001"}, "thread_not_found"),
    ],
)
async def test_post_message_errors(
    emu: SlackEmulator, client: AsyncWebClient, kwargs: dict[str, Any], error: str
) -> None:
    # api_call, not chat_postMessage: slack_sdk warns client-side about a missing text.
    with pytest.raises(SlackApiError) as info:
        await client.api_call("chat.postMessage", json=kwargs)
    assert info.value.response["error"] == error
    assert emu.messages == []
    assert emu.calls_to("chat.postMessage")[0].response["error"] == error


async def test_wrong_token_is_invalid_auth(emu: SlackEmulator) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=emu.api_url)
    with pytest.raises(SlackApiError) as info:
        await bad.chat_postMessage(channel="C0GENERAL", text="x")
    assert info.value.response["error"] == "invalid_auth"
    assert emu.messages == []


async def test_update_unknown_message_and_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.chat_update(channel="C0GENERAL", ts="1.000001", text="x")
    assert info.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as info:
        await client.api_call("pins.add", json={"channel": "C0GENERAL"})
    assert info.value.response["error"] == "unknown_method"


async def test_mention_delivers_app_mention_and_message(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    delivery = await emu.post_message(
        user="U0ALICE", channel="C0DEPLOYS", text="<@UHITLBOT> deploy api"
    )

    assert [r.status_code for r in delivery.responses] == [200, 200]
    assert delivery.message.user == "U0ALICE" and delivery.message.bot_id is None
    assert all(r.signed for r in receiver.requests)
    bodies = [r.json() for r in receiver.requests]
    assert [b["event"]["type"] for b in bodies] == ["app_mention", "message"]
    assert len({b["event_id"] for b in bodies}) == 2
    for b in bodies:
        assert b["type"] == "event_callback"
        assert b["team_id"] == "T0SANDBOX"
        assert b["authorizations"][0]["user_id"] == "UHITLBOT"
        assert b["authorizations"][0]["is_bot"] is True
        event = b["event"]
        assert (event["user"], event["channel"], event["ts"]) == (
            "U0ALICE",
            "C0DEPLOYS",
            delivery.message.ts,
        )
        assert event["text"] == "<@UHITLBOT> deploy api"
    assert bodies[1]["event"]["channel_type"] == "channel"
    first = bodies[0]["event"]["blocks"][0]["elements"][0]["elements"][0]
    assert first == {"type": "user", "user_id": "UHITLBOT"}


async def test_thread_reply_without_mention_is_only_a_message(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    root = await emu.post_message(user="U0ALICE", channel="C0GENERAL", text="hi")
    reply = await emu.post_message(
        user="U0BOB", channel="C0GENERAL", text="yes", thread_ts=root.message.ts
    )
    assert len(reply.responses) == 1
    event = receiver.requests[-1].json()["event"]
    assert event["type"] == "message"
    assert (event["thread_ts"], event["parent_user_id"]) == (root.message.ts, "U0ALICE")
    assert emu.thread("C0GENERAL", root.message.ts) == [root.message, reply.message]


async def test_click_sends_block_actions(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)

    response = await emu.click(user="U0BOB", message=msg, action_id="approve")

    assert response.status_code == 200
    req = receiver.requests[-1]
    assert req.signed
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    payload = req.payload()
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U0BOB",
        "username": "bob",
        "name": "bob",
        "team_id": "T0SANDBOX",
    }
    assert payload["container"] == {
        "type": "message",
        "message_ts": msg.ts,
        "channel_id": "C0DEPLOYS",
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": "C0DEPLOYS", "name": "deploys"}
    assert payload["message"]["ts"] == msg.ts
    assert payload["message"]["blocks"][1]["block_id"] == "approval"
    assert payload["message"]["blocks"][0]["block_id"]  # Slack fills in missing block ids
    [action] = payload["actions"]
    assert (action["type"], action["action_id"], action["block_id"], action["value"]) == (
        "button",
        "approve",
        "approval",
        "req-42",
    )
    assert action["text"]["text"] == "Approve"
    assert payload["trigger_id"] and payload["response_url"].startswith(emu.url)

    # The trigger_id from the click opens a modal; a made-up one does not.
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Why?"}, "blocks": []}
    view["blocks"] = [{"type": "section", "text": {"type": "plain_text", "text": "Tell us"}}]
    opened = await client.views_open(trigger_id=payload["trigger_id"], view=view)
    assert opened["view"]["id"] and emu.views[0].type == "modal"
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id="made-up", view=view)
    assert info.value.response["error"] == "invalid_trigger_id"


async def test_click_unknown_button_raises(emu: SlackEmulator, client: AsyncWebClient) -> None:
    msg = await post_approval(client, emu)
    with pytest.raises(LookupError, match="approve"):
        await emu.click(user="U0BOB", message=msg, action_id="nope")


async def test_click_on_a_stale_copy_uses_the_buttons_it_shows(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)
    stale = copy.deepcopy(msg)
    await client.chat_update(channel=msg.channel, ts=msg.ts, text="Approved", blocks=[])

    with pytest.raises(LookupError):
        await emu.click(user="U0BOB", message=msg, action_id="approve")
    await emu.click(user="U0CAROL", message=stale, action_id="approve")

    payload = receiver.requests[-1].payload()
    assert payload["actions"][0]["value"] == "req-42"
    assert payload["message"]["ts"] == msg.ts


async def test_response_url_replaces_original(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)
    await emu.click(user="U0BOB", message=msg, action_id="reject")
    url = receiver.requests[-1].payload()["response_url"]

    async with httpx.AsyncClient() as http:
        replaced = await http.post(url, json={"replace_original": True, "text": "Rejected by bob"})
        whisper = await http.post(url, json={"text": "only you"})

    assert replaced.status_code == whisper.status_code == 200
    assert (msg.text, msg.blocks) == ("Rejected by bob", [])
    assert [(e.user, e.text) for e in emu.ephemerals] == [("U0BOB", "only you")]


async def test_deliver_passes_forged_signature_and_retry_headers(
    emu: SlackEmulator, receiver: Receiver
) -> None:
    body = json.dumps({"type": "event_callback", "event": {"type": "message"}})
    stale = str(int(time.time()) - 600)

    await emu.deliver(body, content_type="application/json", signature="v0=forged")
    await emu.deliver(body, content_type="application/json", timestamp=stale)
    await emu.deliver(
        body,
        content_type="application/json",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )

    forged, old, retry = receiver.requests
    assert forged.headers["x-slack-signature"] == "v0=forged" and not forged.signed
    assert old.headers["x-slack-request-timestamp"] == stale and not old.signed
    assert retry.signed and retry.headers["x-slack-retry-num"] == "1"
    assert "x-slack-retry-num" not in forged.headers


async def test_ui_page_state_send_and_click(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)
    await client.chat_postEphemeral(channel="C0DEPLOYS", user="U0CAROL", text="for carol")

    async with httpx.AsyncClient(base_url=emu.url) as http:
        page = await http.get("/")
        sent = await http.post(
            "/ui/send", json={"user": "U0ALICE", "channel": "C0DEPLOYS", "text": "@bot ship it"}
        )
        clicked = await http.post(
            "/ui/click",
            json={"user": "U0BOB", "channel": "C0DEPLOYS", "ts": msg.ts, "action_id": "approve"},
        )
        bad = await http.post(
            "/ui/send", json={"user": "U0ALICE", "channel": "C0NOPE", "text": "x"}
        )
        state = (await http.get("/ui/state")).json()

    assert page.status_code == 200 and "[unsupported " in page.text
    assert sent.json()["ok"] is True and sent.json()["statuses"] == [200, 200]
    assert clicked.json() == {"ok": True, "status": 200}
    assert bad.status_code == 400 and bad.json()["ok"] is False
    mention, _, click = [r for r in receiver.requests]
    assert mention.json()["event"]["text"] == "<@UHITLBOT> ship it"
    assert click.payload()["actions"][0]["action_id"] == "approve"
    assert [c["id"] for c in state["channels"]] == ["C0GENERAL", "C0DEPLOYS", "C0INCIDENTS"]
    assert {u["name"] for u in state["users"]} >= {"alice", "bob", "carol", "mallory"}
    assert [m["text"] for m in state["messages"]] == ["Approve?", "<@UHITLBOT> ship it"]
    assert state["messages"][0]["blocks"] == APPROVAL_BLOCKS
    assert [(e["user"], e["text"]) for e in state["ephemerals"]] == [("U0CAROL", "for carol")]


async def test_click_on_an_ephemeral(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    await client.chat_postEphemeral(
        channel="C0DEPLOYS", user="U0BOB", text="Approve?", blocks=APPROVAL_BLOCKS
    )
    [eph] = emu.ephemerals

    await emu.click(user="U0BOB", message=eph, action_id="reject")
    payload = receiver.requests[-1].payload()
    assert payload["container"]["is_ephemeral"] is True
    assert payload["container"]["message_ts"] == eph.ts
    assert "message" not in payload  # Slack keeps no copy of an ephemeral message
    async with httpx.AsyncClient() as http:
        gone = await http.post(payload["response_url"], json={"delete_original": True})
    assert gone.status_code == 200 and emu.ephemerals == []


def test_composer_text_becomes_slack_markup() -> None:
    emu = SlackEmulator(signing_secret=SECRET)
    typed = "@bot ask @bob about <x> & mail a@b.com, not @nobody"
    assert mention_markup(emu, typed) == (
        "<@UHITLBOT> ask <@U0BOB> about &lt;x&gt; &amp; mail a@b.com, not @nobody"
    )


async def test_wait_for_times_out_with_context(emu: SlackEmulator, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0GENERAL", text="something else")
    await emu.wait_for(lambda: len(emu.messages) == 1, timeout=0.5)
    with pytest.raises(TimeoutError, match=r"(?s)not true after 0.1s.*chat.postMessage"):
        await emu.wait_for(lambda: len(emu.messages) == 2, timeout=0.1)


# --- modals -------------------------------------------------------------------------------

REASON_VIEW: dict[str, Any] = {
    "type": "modal",
    "callback_id": "hitl_reject_reason",
    "private_metadata": "req-42",
    "title": {"type": "plain_text", "text": "Reject"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text", "min_length": 3},
        },
        {
            "type": "input",
            "block_id": "env",
            "optional": True,
            "label": {"type": "plain_text", "text": "Instead deploy to"},
            "element": {
                "type": "static_select",
                "action_id": "choice",
                "options": [
                    {"text": {"type": "plain_text", "text": "Staging"}, "value": "staging"},
                    {"text": {"type": "plain_text", "text": "Nowhere"}, "value": "none"},
                ],
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "Requested by alice"}},
    ],
}


def json_answer(body: dict[str, Any]) -> Answer:
    async def answer(_: Received) -> Response:
        return JSONResponse(body)

    return answer


async def open_reason_modal(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver, *, user: str = "U0BOB"
) -> View:
    msg = await post_approval(client, emu)
    await emu.click(user=user, message=msg, action_id="reject")
    trigger_id = receiver.requests[-1].payload()["trigger_id"]
    await client.views_open(trigger_id=trigger_id, view=REASON_VIEW)
    [view] = emu.open_views(user)
    return view


async def test_views_open_answers_like_slack(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)
    await emu.click(user="U0BOB", message=msg, action_id="reject")
    trigger_id = receiver.requests[-1].payload()["trigger_id"]

    opened = await client.views_open(trigger_id=trigger_id, view=REASON_VIEW)

    shown = opened["view"]
    assert shown["id"].startswith("V") and shown["team_id"] == "T0SANDBOX"
    assert (shown["type"], shown["callback_id"], shown["private_metadata"]) == (
        "modal",
        "hitl_reject_reason",
        "req-42",
    )
    assert shown["title"] == REASON_VIEW["title"] and shown["state"] == {"values": {}}
    assert shown["hash"] and shown["root_view_id"] == shown["id"]
    assert shown["blocks"][0]["block_id"] == "reason" and shown["blocks"][2]["block_id"]
    assert shown["blocks"][0]["optional"] is False  # Slack fills in the defaults
    [view] = emu.open_views("U0BOB")
    assert (view.id, view.user, view.callback_id, view.errors, view.closed) == (
        shown["id"],
        "U0BOB",
        "hitl_reject_reason",
        {},
        False,
    )
    assert emu.open_views("U0ALICE") == [] and emu.violations == []
    # A trigger_id works once.
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=trigger_id, view=REASON_VIEW)
    assert info.value.response["error"] == "exchanged_trigger_id"


async def test_views_open_refuses_bad_views_and_records_violations(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)
    bad_views: list[Any] = [
        {"type": "modal", "blocks": REASON_VIEW["blocks"]},  # no title
        {"type": "modal", "title": REASON_VIEW["title"]},  # no blocks
        {"type": "dialog", "title": REASON_VIEW["title"], "blocks": []},
        REASON_VIEW | {"submit": None},  # inputs need a submit button
        REASON_VIEW | {"title": {"type": "plain_text", "text": "x" * 25}},
    ]
    for bad in bad_views:
        await emu.click(user="U0BOB", message=msg, action_id="reject")
        trigger_id = receiver.requests[-1].payload()["trigger_id"]
        with pytest.raises(SlackApiError) as info:
            await client.views_open(trigger_id=trigger_id, view=bad)
        assert info.value.response["error"] == "invalid_arguments"
        assert info.value.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert emu.open_views() == []
    assert [v.error for v in emu.violations] == ["invalid_arguments"] * len(bad_views)
    assert "title" in emu.violations[-1].messages[0]


async def test_expired_trigger_id(receiver: Receiver) -> None:
    emu = SlackEmulator(signing_secret=SECRET, events_url=receiver.url, trigger_ttl=0.0)
    await emu.start()
    try:
        client = AsyncWebClient(token="xoxb-sandbox", base_url=emu.api_url)
        msg = await post_approval(client, emu)
        await emu.click(user="U0BOB", message=msg, action_id="reject")
        with pytest.raises(SlackApiError) as info:
            await client.views_open(
                trigger_id=receiver.requests[-1].payload()["trigger_id"], view=REASON_VIEW
            )
        assert info.value.response["error"] == "expired_trigger_id"
    finally:
        await emu.stop()


async def test_views_update_and_push(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    view = await open_reason_modal(emu, client, receiver)
    first_hash = view.hash
    thanks = {
        "type": "modal",
        "external_id": "thanks-1",
        "title": {"type": "plain_text", "text": "Thanks"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Noted."}}],
    }

    updated = await client.views_update(view_id=view.id, view=thanks, hash=first_hash)
    assert updated["view"]["id"] == view.id and updated["view"]["hash"] != first_hash
    assert view.title == thanks["title"] and view.blocks[0]["text"]["text"] == "Noted."
    again = thanks | {"blocks": [{"type": "divider"}]}
    await client.views_update(external_id="thanks-1", view=again)
    assert view.blocks[0]["type"] == "divider"

    for kwargs, error in [
        ({"view_id": "V0NOPE"}, "not_found"),
        ({"view_id": view.id, "hash": first_hash}, "hash_conflict"),
        ({}, "invalid_arguments"),  # slack_sdk itself refuses this; api_call does not
    ]:
        with pytest.raises(SlackApiError) as info:
            await client.api_call("views.update", json={"view": thanks, **kwargs})
        assert info.value.response["error"] == error

    # views.push stacks up to three views; the top one is last.
    msg = await post_approval(client, emu)
    for _ in range(2):
        await emu.click(user="U0BOB", message=msg, action_id="reject")
        trigger = receiver.requests[-1].payload()["trigger_id"]
        pushed = await client.views_push(trigger_id=trigger, view=thanks | {"external_id": ""})
        assert pushed["view"]["previous_view_id"] and pushed["view"]["root_view_id"] == view.id
    stack = emu.open_views("U0BOB")
    assert len(stack) == 3 and stack[0] is view
    await emu.click(user="U0BOB", message=msg, action_id="reject")
    with pytest.raises(SlackApiError) as info:
        await client.views_push(
            trigger_id=receiver.requests[-1].payload()["trigger_id"],
            view=thanks | {"external_id": ""},
        )
    assert info.value.response["error"] == "push_limit_reached"


async def test_submit_view_sends_a_signed_view_submission(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    view = await open_reason_modal(emu, client, receiver)

    response = await emu.submit_view(
        user="U0BOB",
        view=view,
        values={"reason": {"text": "tests are red"}, "env": {"choice": "staging"}},
    )

    assert response.status_code == 200
    req = receiver.requests[-1]
    assert req.signed and req.headers["content-type"] == "application/x-www-form-urlencoded"
    payload = req.payload()
    assert payload["type"] == "view_submission"
    assert payload["user"] == {
        "id": "U0BOB",
        "username": "bob",
        "name": "bob",
        "team_id": "T0SANDBOX",
    }
    assert payload["team"]["id"] == "T0SANDBOX" and payload["api_app_id"] == "A0HITLAPP"
    assert payload["trigger_id"] and payload["response_urls"] == []
    sent = payload["view"]
    assert (sent["id"], sent["callback_id"], sent["private_metadata"]) == (
        view.id,
        "hitl_reject_reason",
        "req-42",
    )
    assert sent["submit"]["text"] == "Reject" and sent["hash"] == view.hash
    assert sent["state"]["values"] == {
        "reason": {"text": {"type": "plain_text_input", "value": "tests are red"}},
        "env": {
            "choice": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Staging"},
                    "value": "staging",
                },
            }
        },
    }
    # An empty 200 closes the modal.
    assert view.closed and emu.open_views("U0BOB") == []
    with pytest.raises(LookupError):
        await emu.submit_view(user="U0BOB", view=view, values={"reason": {"text": "again"}})


async def test_submit_view_left_out_inputs_keep_initial_values(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    msg = await post_approval(client, emu)
    await emu.click(user="U0BOB", message=msg, action_id="reject")
    blocks = copy.deepcopy(REASON_VIEW["blocks"])
    blocks[0]["element"]["initial_value"] = "flaky"
    blocks[1]["element"]["initial_option"] = blocks[1]["element"]["options"][1]
    await client.views_open(
        trigger_id=receiver.requests[-1].payload()["trigger_id"],
        view=REASON_VIEW | {"blocks": blocks},
    )
    [view] = emu.open_views("U0BOB")

    await emu.submit_view(user="U0BOB", view=view, values={})

    values = receiver.requests[-1].payload()["view"]["state"]["values"]
    assert values["reason"]["text"]["value"] == "flaky"
    assert values["env"]["choice"]["selected_option"]["value"] == "none"


async def test_submit_view_client_side_checks_send_nothing(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    view = await open_reason_modal(emu, client, receiver)
    sent_before = len(receiver.requests)

    with pytest.raises(IncompleteView) as info:
        await emu.submit_view(user="U0BOB", view=view, values={"env": {"choice": "none"}})
    assert info.value.errors == {"reason": "Please complete this required field."}
    with pytest.raises(IncompleteView, match="at least 3"):
        await emu.submit_view(user="U0BOB", view=view, values={"reason": {"text": "no"}})
    with pytest.raises(LookupError, match="staging"):
        await emu.submit_view(user="U0BOB", view=view, values={"env": {"choice": "prod"}})
    with pytest.raises(LookupError, match="reason"):
        await emu.submit_view(user="U0BOB", view=view, values={"nope": {"x": "y"}})
    with pytest.raises(LookupError, match="top modal"):
        await emu.submit_view(user="U0ALICE", view=view, values={"reason": {"text": "mine"}})

    assert len(receiver.requests) == sent_before
    assert view.errors == {"reason": "Please enter at least 3 characters."} and not view.closed


async def test_response_actions_errors_update_push_clear(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    view = await open_reason_modal(emu, client, receiver)
    done = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Done"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Rejected."}}],
    }
    receiver.answers += [
        json_answer({"response_action": "errors", "errors": {"reason": "Say more"}}),
        json_answer({"response_action": "update", "view": REASON_VIEW}),
        json_answer({"response_action": "push", "view": done}),
        json_answer({"response_action": "clear"}),
    ]
    filled = {"reason": {"text": "meh"}}

    await emu.submit_view(user="U0BOB", view=view, values=filled)
    assert view.errors == {"reason": "Say more"} and not view.closed
    assert view.values["reason"]["text"]["value"] == "meh"  # the modal keeps what was typed

    old_hash = view.hash
    await emu.submit_view(user="U0BOB", view=view, values={"reason": {"text": "red CI"}})
    assert view.errors == {} and view.hash != old_hash and not view.closed

    await emu.submit_view(user="U0BOB", view=view, values=filled)
    root, top = emu.open_views("U0BOB")
    assert root is view and top.title == done["title"] and top.previous_view_id == view.id

    # `clear` on the pushed view's submission closes the whole stack.
    await emu.submit_view(user="U0BOB", view=top, values={})
    assert emu.open_views("U0BOB") == [] and emu.violations == []


async def test_bad_response_actions_are_violations(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    view = await open_reason_modal(emu, client, receiver)
    filled = {"reason": {"text": "not today"}}
    receiver.answers += [
        json_answer({"response_action": "errors", "errors": {"nope": "x"}}),
        json_answer({"response_action": "update", "view": {"type": "modal"}}),
        json_answer({"response_action": "shrug"}),
    ]

    for _ in range(3):
        await emu.submit_view(user="U0BOB", view=view, values=filled)

    assert not view.closed and view.errors == {}
    assert [v.error for v in emu.violations] == [
        "invalid_errors",
        "invalid_arguments",
        "invalid_response_action",
    ]
    assert "nope" in emu.violations[0].messages[0]


async def test_close_view_tells_the_bot_only_when_asked(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    view = await open_reason_modal(emu, client, receiver)
    sent_before = len(receiver.requests)
    assert await emu.close_view(user="U0BOB", view=view) is None
    assert view.closed and len(receiver.requests) == sent_before

    msg = await post_approval(client, emu)
    await emu.click(user="U0BOB", message=msg, action_id="reject")
    await client.views_open(
        trigger_id=receiver.requests[-1].payload()["trigger_id"],
        view=REASON_VIEW | {"notify_on_close": True},
    )
    [second] = emu.open_views("U0BOB")
    response = await emu.close_view(user="U0BOB", view=second)
    assert response is not None and response.status_code == 200
    payload = receiver.requests[-1].payload()
    assert (payload["type"], payload["view"]["id"], payload["is_cleared"]) == (
        "view_closed",
        second.id,
        False,
    )


async def test_real_bolt_app_reads_the_submission_and_its_errors_reach_the_view(
    emu: SlackEmulator, client: AsyncWebClient, receiver: Receiver
) -> None:
    bolt = AsyncApp(client=client, signing_secret=SECRET)
    seen: list[dict[str, Any]] = []

    async def on_reason(ack: Any, view: dict[str, Any], body: dict[str, Any]) -> None:
        seen.append(body)
        reason = view["state"]["values"]["reason"]["text"]["value"]
        if len(reason) < 10:
            await ack(response_action="errors", errors={"reason": "Say a bit more"})
        else:
            await ack()

    bolt.view("hitl_reject_reason")(on_reason)
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    server = await start_server(
        Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    )
    try:
        view = await open_reason_modal(emu, client, receiver)
        emu.events_url = f"{server.url}/slack/events"
        await emu.submit_view(user="U0BOB", view=view, values={"reason": {"text": "nah"}})
        assert view.errors == {"reason": "Say a bit more"} and not view.closed
        await emu.submit_view(
            user="U0BOB", view=view, values={"reason": {"text": "CI is red, twice"}}
        )
        assert view.closed
    finally:
        await server.stop()
    assert [b["user"]["id"] for b in seen] == ["U0BOB", "U0BOB"]
    assert seen[0]["view"]["private_metadata"] == "req-42"


# --- Slack's limits, rate limits and retries ----------------------------------------------


async def test_blocks_past_slacks_limits_are_refused_with_details(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    divider = {"type": "divider"}
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    cases = [
        ([divider] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        ([divider, long_section], "3000 characters [json-pointer:/blocks/1]"),
        ([{"type": "marquee"}], "unsupported type: marquee [json-pointer:/blocks/0/type]"),
    ]
    for blocks, detail in cases:
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel="C0GENERAL", text="hi", blocks=blocks)
        answer = info.value.response
        assert answer["error"] == "invalid_blocks"
        assert any(detail in e for e in answer["errors"]), answer["errors"]
        assert any(m.startswith("[ERROR] ") for m in answer["response_metadata"]["messages"])
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0GENERAL", text="x" * 40_001)
    assert info.value.response["error"] == "msg_too_long"

    assert emu.messages == []
    assert [(v.method, v.error) for v in emu.violations] == [
        ("chat.postMessage", "invalid_blocks"),
        ("chat.postMessage", "invalid_blocks"),
        ("chat.postMessage", "invalid_blocks"),
        ("chat.postMessage", "msg_too_long"),
    ]
    assert emu.violations[0].args["text"] == "hi"


async def test_blocks_without_fallback_text_pass_but_are_a_violation(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    # api_call, not chat_postMessage: slack_sdk would warn client-side first.
    posted = await client.api_call(
        "chat.postMessage", json={"channel": "C0GENERAL", "blocks": APPROVAL_BLOCKS}
    )
    assert posted["ok"] is True and len(emu.messages) == 1
    [violation] = emu.violations
    assert (violation.method, violation.error) == ("chat.postMessage", "missing_text")
    await client.chat_postMessage(channel="C0GENERAL", text="Approve?", blocks=APPROVAL_BLOCKS)
    assert len(emu.violations) == 1


async def test_rate_limit_answers_429_with_retry_after(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.rate_limit("chat.postMessage", times=2, retry_after=7)

    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel="C0GENERAL", text="hi")
        assert info.value.response.status_code == 429
        assert info.value.response.headers["Retry-After"] in ("7", ["7"])
        assert info.value.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C0GENERAL", text="hi")
    await client.auth_test()  # other methods were never limited

    assert [c.response["ok"] for c in emu.calls_to("chat.postMessage")] == [False, False, True]
    assert len(emu.messages) == 1 and emu.violations == []


async def test_slack_sdk_retry_handler_waits_and_succeeds(emu: SlackEmulator) -> None:
    retrying = AsyncWebClient(
        token="xoxb-sandbox",
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.rate_limit("chat.postMessage", retry_after=0)
    posted = await retrying.chat_postMessage(channel="C0GENERAL", text="eventually")
    assert posted["ok"] is True
    assert [c.response["ok"] for c in emu.calls_to("chat.postMessage")] == [False, True]


@pytest.fixture
async def retrying_emu(receiver: Receiver) -> AsyncIterator[SlackEmulator]:
    emulator = SlackEmulator(
        signing_secret=SECRET,
        events_url=receiver.url,
        retries=True,
        ack_timeout=0.3,
        retry_delays=(0.0, 0.0, 0.0),
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


def slow(seconds: float) -> Answer:
    async def answer(_: Received) -> Response:
        await asyncio.sleep(seconds)
        return PlainTextResponse("")

    return answer


def status(code: int, headers: dict[str, str] | None = None) -> Answer:
    async def answer(_: Received) -> Response:
        return PlainTextResponse("", status_code=code, headers=headers)

    return answer


async def test_events_are_redelivered_like_slack_when_the_bot_is_slow(
    retrying_emu: SlackEmulator, receiver: Receiver
) -> None:
    receiver.answers += [slow(1.0), status(500)]

    delivery = await retrying_emu.post_message(user="U0ALICE", channel="C0GENERAL", text="hi")

    assert [r.status_code for r in delivery.responses] == [200]
    first, timeout_retry, error_retry = receiver.requests
    assert all(r.signed for r in receiver.requests)
    assert first.body == timeout_retry.body == error_retry.body  # same event_id, same event
    assert "x-slack-retry-num" not in first.headers
    assert (
        timeout_retry.headers["x-slack-retry-num"],
        error_retry.headers["x-slack-retry-num"],
    ) == (
        "1",
        "2",
    )
    assert timeout_retry.headers["x-slack-retry-reason"] == "http_timeout"
    assert error_retry.headers["x-slack-retry-reason"] == "http_error"


async def test_redelivery_stops_after_three_retries_or_when_told(
    retrying_emu: SlackEmulator, receiver: Receiver
) -> None:
    receiver.answers += [status(503)] * 4
    delivery = await retrying_emu.post_message(user="U0ALICE", channel="C0GENERAL", text="a")
    assert [r.status_code for r in delivery.responses] == [503]
    assert [r.headers.get("x-slack-retry-num") for r in receiver.requests] == [None, "1", "2", "3"]

    receiver.requests.clear()
    receiver.answers += [status(500, {"X-Slack-No-Retry": "1"})]
    await retrying_emu.post_message(user="U0ALICE", channel="C0GENERAL", text="b")
    assert len(receiver.requests) == 1

    receiver.requests.clear()
    receiver.answers += [slow(1.0)] * 4
    with pytest.raises(TimeoutError, match="did not answer"):
        await retrying_emu.post_message(user="U0ALICE", channel="C0GENERAL", text="c")
    assert len(receiver.requests) == 4


async def test_no_redelivery_by_default(emu: SlackEmulator, receiver: Receiver) -> None:
    receiver.answers += [status(500)]
    delivery = await emu.post_message(user="U0ALICE", channel="C0GENERAL", text="hi")
    assert [r.status_code for r in delivery.responses] == [500]
    assert len(receiver.requests) == 1
