"""What each person sees in the sandbox's web UI, clicking through the README's flows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.adapters import simulated_store
from bot.runners import Sandbox
from tests.browser.ui import block_buttons, open_thread, press, send, switch_user
from tools.deploy import DEPLOY_TOOLS, SimulatedDeployer

pytestmark = pytest.mark.slow  # a real browser over the whole sandbox stack

DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "sandbox-approval.png"


async def test_approval_flow_what_alice_and_bob_see(
    page: Page, sandbox: Sandbox, tmp_path: Path
) -> None:
    await send(page, "@bot deploy api 1.4.2 to production")
    thread = await open_thread(page, "deploy api 1.4.2 to production")
    approval = thread.locator(".msg", has=page.get_by_role("button", name="Approve"))
    await expect(approval).to_contain_text("Deploy api 1.4.2 to production")

    # The requester cannot approve: only she gets an ephemeral saying so.
    await press(approval.get_by_role("button", name="Approve"))
    refusal = thread.locator(".msg.ephemeral")
    await expect(refusal).to_contain_text("You can't approve")
    await expect(refusal).to_contain_text("Only visible to you")

    await switch_user(page, "bob")
    await expect(refusal).to_have_count(0)
    await press(approval.get_by_role("button", name="Approve"))
    decided = thread.locator(".msg", has_text="Approved by").first
    await expect(decided).to_contain_text("@bob")
    await expect(block_buttons(decided)).to_have_count(0)
    await expect(thread).to_contain_text("Deployed api 1.4.2 to production")
    await page.screenshot(path=tmp_path / "approval.png")
    if os.environ.get("HITL_UPDATE_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=DOCS_SCREENSHOT)

    # Alice sees the decision and the result, and still her own refusal; bob never saw it.
    await switch_user(page, "alice")
    await expect(thread).to_contain_text("Deployed api 1.4.2 to production")
    await expect(decided).to_contain_text("@bob")
    await expect(refusal).to_have_count(1)
    assert [e.user for e in sandbox.emulator.ephemerals] == ["U0ALICE"]


async def test_question_answered_in_the_thread(page: Page) -> None:
    await send(page, "@bot deploy web to staging")
    thread = await open_thread(page, "deploy web to staging")
    await expect(thread).to_contain_text("version")

    await send(page, "2.0.1", composer="#compose-thread")

    await expect(thread).to_contain_text("Deployed web 2.0.1 to staging")


async def test_reject_asks_bob_for_a_reason_in_a_modal(page: Page, sandbox: Sandbox) -> None:
    await send(page, "@bot deploy api 1.4.2 to production")
    thread = await open_thread(page, "deploy api 1.4.2 to production")
    approval = thread.locator(".msg", has=page.get_by_role("button", name="Reject"))
    await switch_user(page, "bob")
    await press(approval.get_by_role("button", name="Reject"))

    modal = page.get_by_role("dialog", name="Reject")
    reason = modal.get_by_label("Why are you rejecting it?")
    error = modal.locator(".field-error")
    await modal.get_by_role("button", name="Reject").click()
    await expect(error).to_have_text("Please complete this required field.")  # Slack's client
    await reason.fill("   ")
    await modal.get_by_role("button", name="Reject").click()
    await expect(error).to_contain_text("Please say why")  # the bot's own check

    await reason.fill("the canary is red")
    await modal.get_by_role("button", name="Reject").click()
    await expect(modal).to_have_count(0)
    decided = thread.locator(".msg", has_text="Rejected by").first  # the updated request
    await expect(decided).to_contain_text("@bob")
    await expect(decided).to_contain_text("the canary is red")
    await expect(block_buttons(decided)).to_have_count(0)

    await switch_user(page, "alice")
    await expect(decided).to_contain_text("the canary is red")
    await expect(page.get_by_role("dialog")).to_have_count(0)
    assert (
        await SimulatedDeployer(simulated_store(sandbox.services.redis, DEPLOY_TOOLS)).deployments()
        == []
    )
