"""Browser tests: Playwright for Python driving Debian's chromium (never `playwright install`)
against the whole sandbox stack, started in-process as `hitl sandbox` wires it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from redis.asyncio import Redis

from bot.runners import Sandbox, sandbox_stack
from bot.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed: scripts/bootstrap.sh installs it (apt chromium)")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def sandbox(redis_server: str, redis: Redis) -> AsyncIterator[Sandbox]:
    settings = Settings(llm_provider="offline", hitl_approvers=frozenset())
    async with sandbox_stack(settings, redis_url=redis_server) as running:
        yield running
        assert running.emulator.violations == [], running.emulator.violations


@pytest.fixture
async def page(browser: Browser, sandbox: Sandbox) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    opened = await context.new_page()
    await opened.goto(f"{sandbox.emulator.url}/?user=U0ALICE&channel=C0DEPLOYS")
    yield opened
    await context.close()
