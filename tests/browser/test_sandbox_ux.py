"""Issue 13's Slack-native flows in the sandbox's web UI: the Home tab inbox, approving from a
DM, `/hitl` typed in the composer and the "Ask hitl about this" message shortcut."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.runners import Sandbox
from tests.browser.ui import (
    block_buttons,
    open_thread,
    press,
    send,
    switch_user,
)

pytestmark = pytest.mark.slow  # a real browser over the whole sandbox stack

DOCS_HOME_SCREENSHOT = Path(__file__).parents[2] / "docs" / "sandbox-home.png"
REQUEST = "deploy api 1.4.2 to production"


async def test_inbox_bob_approves_from_his_home_tab(page: Page, sandbox: Sandbox) -> None:
    await send(page, f"@bot {REQUEST}")
    thread = await open_thread(page, REQUEST)
    await expect(thread.get_by_role("button", name="Approve")).to_be_visible()

    await switch_user(page, "bob")
    await page.locator("#nav-home").click()
    home = page.locator("#home-view")
    await expect(home.get_by_role("heading", name="Waiting for you")).to_be_visible()
    await expect(home).to_contain_text("Deploy api 1.4.2 to production")
    await expect(home).to_contain_text("Asked by @alice")
    if os.environ.get("HITL_UPDATE_SCREENSHOT"):
        await page.screenshot(path=DOCS_HOME_SCREENSHOT)

    await press(home.get_by_role("button", name="Approve"))
    await expect(home).to_contain_text("Nothing is waiting for you.")
    await expect(home).to_contain_text("approved by @bob")  # under "Recent decisions"

    await page.locator("#channels [data-channel-select=C0DEPLOYS]").click()
    thread = await open_thread(page, REQUEST)
    await expect(thread).to_contain_text("Deployed api 1.4.2 to production")
    await expect(thread.locator(".msg", has_text="Approved by").first).to_contain_text("@bob")


async def test_dm_approval_carol_approves_from_her_dm_card(page: Page) -> None:
    await send(page, f"@bot {REQUEST}")
    thread = await open_thread(page, REQUEST)
    channel_card = thread.locator(".msg", has_text="Deploy api 1.4.2 to production").last
    await expect(channel_card.get_by_role("button", name="Approve")).to_be_visible()

    await switch_user(page, "carol")
    await page.locator("#nav-dm").click()
    await expect(page.locator("#chan-title")).to_have_text("@ hitl")
    dm_card = page.locator("#messages .msg", has=page.get_by_role("button", name="Approve"))
    await expect(dm_card).to_contain_text("Deploy api 1.4.2 to production")
    await press(dm_card.get_by_role("button", name="Approve"))

    dm_decided = page.locator("#messages .msg", has_text="Approved by").first
    await expect(dm_decided).to_contain_text("@carol")
    await expect(block_buttons(dm_decided)).to_have_count(0)
    # Each person sees their own DM: bob's copy of the card (he may decide too) is settled.
    await switch_user(page, "bob")
    await expect(page.locator("#nav-dm")).to_have_class("chan active")
    await expect(dm_decided).to_contain_text("@carol")
    assert await page.locator("#messages .msg").count() == 1
    await switch_user(page, "carol")
    await page.locator("#channels [data-channel-select=C0DEPLOYS]").click()
    thread = await open_thread(page, REQUEST)
    decided = thread.locator(".msg", has_text="Approved by").first
    await expect(decided).to_contain_text("@carol")
    await expect(block_buttons(decided)).to_have_count(0)
    await expect(thread).to_contain_text("Deployed api 1.4.2 to production")


async def test_hitl_command_starts_a_request_and_lists_the_inbox(page: Page) -> None:
    await send(page, f"/hitl {REQUEST}")
    thread = await open_thread(page, f"asked: {REQUEST}")
    await expect(thread.locator(".msg").first).to_contain_text("@alice")
    await expect(thread.get_by_role("button", name="Approve")).to_be_visible()

    await switch_user(page, "bob")
    await send(page, "/hitl inbox")
    listed = page.locator("#messages .msg.ephemeral", has_text="Waiting for your decision")
    await expect(listed).to_contain_text("Deploy api 1.4.2 to production")
    await expect(listed).to_contain_text("Only visible to you")
    await switch_user(page, "alice")
    await expect(listed).to_have_count(0)


async def test_shortcut_on_a_message_starts_a_thread_under_it(page: Page) -> None:
    await send(page, "the checkout error rate doubled after the last release")
    message = page.locator("#messages .msg", has_text="checkout error rate").last
    await message.hover()  # ⋯ shows on the message under the pointer, as in Slack
    await message.get_by_role("button", name="More actions").click()
    await page.get_by_role("menuitem", name="Ask hitl about this").click()

    modal = page.get_by_role("dialog", name="Ask hitl")
    await modal.get_by_label("What should I do about this message?").fill(
        "deploy web 2.0.1 to staging"
    )
    await modal.get_by_role("button", name="Ask").click()
    await expect(modal).to_have_count(0)

    thread = await open_thread(page, "checkout error rate")
    await expect(thread).to_contain_text("asked about this message: deploy web 2.0.1 to staging")
    await expect(thread).to_contain_text("Deployed web 2.0.1 to staging")


async def test_reject_from_home_opens_the_reason_modal(page: Page) -> None:
    await send(page, f"@bot {REQUEST}")
    thread = await open_thread(page, REQUEST)
    await expect(thread.get_by_role("button", name="Reject")).to_be_visible()  # it waits
    await switch_user(page, "bob")
    await page.locator("#nav-home").click()
    home = page.locator("#home-view")
    await home.get_by_role("button", name="Reject").click()

    modal = page.get_by_role("dialog", name="Reject")
    await modal.get_by_label("Why are you rejecting it?").fill("the canary is red")
    await modal.get_by_role("button", name="Reject").click()
    await expect(modal).to_have_count(0)
    await expect(home).to_contain_text("Nothing is waiting for you.")
    await expect(home).to_contain_text("rejected by @bob")
