"""The emulator's web UI on its own: Block Kit rendering, confirm dialogs, selects, modals
and violations, driven by a small real Bolt app (not the hitl bot)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.emulator.server import SlackEmulator
from bot.serving import start_server
from tests.browser.conftest import TIMEOUT_MS

pytestmark = pytest.mark.slow  # a real browser: seconds per test

SECRET = "ui-test-secret"
CHANNEL = "C0GENERAL"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


OPTIONS = [{"text": plain(e.title()), "value": e} for e in ("staging", "production")]
KITCHEN_SINK: list[dict[str, Any]] = [
    {"type": "header", "text": plain("Release train")},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Bold* and _italic_ for <@U0BOB>"},
        "fields": [{"type": "mrkdwn", "text": "*Service*\napi"}],
        "accessory": {"type": "image", "image_url": "http://127.0.0.1:9/a.png", "alt_text": "logo"},
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "small print"}]},
    {"type": "divider"},
    {
        "type": "image",
        "image_url": "http://127.0.0.1:9/b.png",
        "alt_text": "graph",
        "title": plain("Latency"),
    },
    {
        "type": "video",
        "alt_text": "demo",
        "title": plain("Demo"),
        "video_url": "http://127.0.0.1:9/v",
        "thumbnail_url": "http://127.0.0.1:9/t.png",
    },
    {
        "type": "actions",
        "elements": [
            {
                "type": "static_select",
                "action_id": "pick_env",
                "placeholder": plain("Pick an environment"),
                "options": OPTIONS,
            },
            {
                "type": "button",
                "action_id": "dangerous",
                "text": plain("Delete everything"),
                "style": "danger",
                "confirm": {
                    "title": plain("Really delete?"),
                    "text": plain("This cannot be undone."),
                    "confirm": plain("Delete"),
                    "deny": plain("Keep it"),
                    "style": "danger",
                },
            },
            {"type": "button", "action_id": "open_form", "text": plain("Open form")},
        ],
    },
]
FORM: dict[str, Any] = {
    "type": "modal",
    "callback_id": "form",
    "title": plain("Why?"),
    "submit": plain("Send"),
    "close": plain("Never mind"),
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": plain("Reason"),
            "hint": plain("At least ten characters"),
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        },
        {
            "type": "input",
            "block_id": "env",
            "label": plain("Environment"),
            "element": {"type": "static_select", "action_id": "choice", "options": OPTIONS},
        },
    ],
}


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(signing_secret=SECRET)
    await emu.start()
    client = AsyncWebClient(token=emu.identity.bot_token, base_url=emu.api_url)
    bolt = AsyncApp(client=client, signing_secret=SECRET)

    async def say(text: str) -> None:
        await client.chat_postMessage(channel=CHANNEL, text=text)

    async def on_pick(ack: Any, action: dict[str, Any]) -> None:
        await ack()
        await say(f"picked {action['selected_option']['value']}")

    async def on_dangerous(ack: Any) -> None:
        await ack()
        await say("boom")

    async def on_open_form(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=FORM)

    async def on_form(ack: Any, view: dict[str, Any], body: dict[str, Any]) -> None:
        values = view["state"]["values"]
        reason = values["reason"]["text"]["value"]
        if len(reason) < 10:
            await ack(response_action="errors", errors={"reason": "Say a bit more"})
            return
        await ack()
        env = values["env"]["choice"]["selected_option"]["value"]
        await say(f"{body['user']['name']} said {reason!r} about {env}")

    bolt.action("pick_env")(on_pick)
    bolt.action("dangerous")(on_dangerous)
    bolt.action("open_form")(on_open_form)
    bolt.view("form")(on_form)
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    server = await start_server(
        Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    )
    emu.events_url = f"{server.url}/slack/events"
    await client.chat_postMessage(channel=CHANNEL, text="Release train", blocks=KITCHEN_SINK)
    yield emu
    await server.stop()
    await emu.stop()


@pytest.fixture
async def page(browser: Browser, emulator: SlackEmulator) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    await opened.goto(f"{emulator.url}/?user=U0ALICE&channel={CHANNEL}")
    yield opened
    await context.close()


async def test_blocks_render_and_unknown_ones_stay_visible(page: Page) -> None:
    msg = page.locator("#messages .msg").first
    await expect(msg.get_by_role("heading", name="Release train")).to_be_visible()
    await expect(msg.locator("b", has_text="Bold")).to_be_visible()
    await expect(msg.locator(".mention", has_text="@bob")).to_be_visible()
    await expect(msg.locator(".fields")).to_contain_text("Service")
    await expect(msg.locator(".context")).to_contain_text("small print")
    await expect(msg.locator("hr")).to_have_count(1)
    await expect(msg.get_by_role("img", name="graph")).to_have_count(1)
    await expect(msg.locator("figcaption")).to_have_text("Latency")
    await expect(msg.get_by_role("img", name="logo")).to_have_count(1)
    await expect(msg).to_contain_text("[unsupported block: video]")
    await expect(msg.get_by_role("button", name="Delete everything")).to_have_class("btn danger")


async def test_static_select_sends_the_chosen_option(page: Page) -> None:
    await page.locator("[data-select-action-id=pick_env]").select_option("production")
    await expect(page.locator("#messages")).to_contain_text("picked production")


async def test_confirm_dialog_asks_before_the_click_is_sent(
    page: Page, emulator: SlackEmulator
) -> None:
    delete = page.get_by_role("button", name="Delete everything")
    dialog = page.get_by_role("alertdialog", name="Really delete?")

    await delete.click()
    await expect(dialog).to_contain_text("This cannot be undone.")
    await dialog.get_by_role("button", name="Keep it").click()
    await expect(dialog).to_have_count(0)
    await page.wait_for_timeout(300)
    assert not any(m.text == "boom" for m in emulator.messages)

    await delete.click()
    await dialog.get_by_role("button", name="Delete").click()
    await expect(page.locator("#messages")).to_contain_text("boom")


async def test_modal_shows_validation_errors_and_closes_on_success(
    page: Page, emulator: SlackEmulator
) -> None:
    await page.get_by_role("button", name="Open form").click()
    modal = page.get_by_role("dialog", name="Why?")
    await expect(modal.get_by_label("Reason")).to_be_visible()
    await expect(modal).to_contain_text("At least ten characters")

    # Required fields are checked by the client; nothing reaches the bot.
    await modal.get_by_role("button", name="Send").click()
    await expect(modal.locator(".field-error")).to_have_count(2)
    await expect(modal.locator("[data-block-id=reason] .field-error")).to_have_text(
        "Please complete this required field."
    )

    # The bot's own validation error appears under its field; what was typed stays.
    await modal.get_by_label("Reason").fill("meh")
    await modal.get_by_label("Environment").select_option("staging")
    await modal.get_by_role("button", name="Send").click()
    await expect(modal.locator("[data-block-id=reason] .field-error")).to_have_text(
        "Say a bit more"
    )
    await expect(modal.get_by_label("Reason")).to_have_value("meh")
    await expect(modal.get_by_label("Environment")).to_have_value("staging")

    # Another person does not see alice's modal.
    await page.select_option("#who", value="U0BOB")
    await expect(modal).to_have_count(0)
    await page.select_option("#who", value="U0ALICE")
    await expect(modal.get_by_label("Reason")).to_have_value("meh")

    await modal.get_by_label("Reason").fill("the canary is red")
    await modal.get_by_role("button", name="Send").click()
    await expect(modal).to_have_count(0)
    await expect(page.locator("#messages")).to_contain_text(
        "alice said 'the canary is red' about staging"
    )
    assert emulator.open_views() == []


async def test_cancel_closes_the_modal(page: Page, emulator: SlackEmulator) -> None:
    await page.get_by_role("button", name="Open form").click()
    modal = page.get_by_role("dialog", name="Why?")
    await modal.get_by_role("button", name="Never mind").click()
    await expect(modal).to_have_count(0)
    assert emulator.open_views() == [] and emulator.views[0].closed


async def test_violations_are_shown(page: Page, emulator: SlackEmulator) -> None:
    client = AsyncWebClient(token=emulator.identity.bot_token, base_url=emulator.api_url)
    # api_call: slack_sdk would warn client-side about the missing fallback text first.
    await client.api_call(
        "chat.postMessage", json={"channel": CHANNEL, "blocks": [{"type": "divider"}]}
    )
    banner = page.locator("#violations")
    await expect(banner).to_contain_text("1 Slack violation")
    await expect(banner).to_contain_text("chat.postMessage missing_text")


async def test_status_line_shows_under_the_thread_while_set(
    page: Page, emulator: SlackEmulator
) -> None:
    client = AsyncWebClient(token=emulator.identity.bot_token, base_url=emulator.api_url)
    root = emulator.messages[0]
    await page.locator("#messages .msg", has_text="Release train").locator(".thread-link").click()
    line = page.locator("#thread-messages .status-line")
    await expect(line).to_have_count(0)

    await client.assistant_threads_setStatus(
        channel_id=CHANNEL, thread_ts=root.ts, status="is deploying api 1.4.2…"
    )
    await expect(line).to_have_text(f"{emulator.identity.bot_name} is deploying api 1.4.2…")
    await client.assistant_threads_setStatus(channel_id=CHANNEL, thread_ts=root.ts, status="")
    await expect(line).to_have_count(0)
