"""What a person does in the sandbox's web UI, shared by the browser tests."""

from __future__ import annotations

from playwright.async_api import Locator, Page

USERS = {"alice": "U0ALICE", "bob": "U0BOB", "carol": "U0CAROL", "mallory": "U0MALLORY"}


async def send(page: Page, text: str, *, composer: str = "#compose") -> None:
    await page.fill(composer, text)
    await page.press(composer, "Enter")


async def switch_user(page: Page, name: str) -> None:
    await page.select_option("#who", value=USERS[name])


async def press(button: Locator) -> None:
    """Click like a person: answer the button's confirm dialog with its confirm button."""
    await button.click()
    page = button.page
    if await page.locator("#confirm-root [role=alertdialog]").count():
        await page.locator("[data-confirm-ok]").click()


def block_buttons(message: Locator) -> Locator:
    """The Block Kit buttons of a message (not the client's own ⋯ menu button)."""
    return message.locator(".block").get_by_role("button")


async def open_thread(page: Page, root_text: str) -> Locator:
    root = page.locator("#messages .msg", has_text=root_text).last
    await root.locator(".thread-link").click()
    return page.locator("#thread-messages")
