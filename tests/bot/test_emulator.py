from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.emulator import Message, SlackEmulator
from bot.emulator_ui import mention_markup
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


@dataclass
class Receiver:
    """A stand-in for the bot's /slack/events endpoint that records what arrives."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def events(request: Request) -> PlainTextResponse:
        rec.requests.append(Received((await request.body()).decode(), dict(request.headers)))
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
    assert emu.calls_to("chat.postMessage")[0].response == {"ok": False, "error": error}


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
        await client.api_call("reactions.add", json={"name": "eyes"})
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
    opened = await client.views_open(trigger_id=payload["trigger_id"], view=view)
    assert opened["view"]["id"] and emu.views[0]["type"] == "modal"
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
