"""The Bolt app: every listener is registered here, explicitly."""

from __future__ import annotations

import logging
import re

from redis.exceptions import RedisError
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, commands, home_view
from bot.slack.commands import Commands
from bot.slack.handlers import Handlers

ANYTHING = re.compile(".*")


def build_bolt_app(
    *,
    client: AsyncWebClient,
    signing_secret: str,
    handlers: Handlers,
    slash: Commands | None = None,
) -> AsyncApp:
    # Slack gets its 200 only once a listener has enqueued its job (they all are fast): if
    # Redis is down the listener fails, Slack sees a 500 and retries, and nothing is lost.
    # Without this Bolt acknowledges events before the listener runs.
    # The HTTP edge (bot/http.py) checks every request's signature before Bolt sees it (Socket
    # Mode has none), so Bolt does not check it a second time.
    app = AsyncApp(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        request_verification_enabled=False,
    )
    app.error(on_error)
    app.event("app_mention")(handlers.on_mention)
    app.event("message")(handlers.on_message)
    app.event("app_home_opened")(handlers.on_home_opened)
    app.action(home_view.OPEN_ACTION)(handlers.on_home_link)
    app.action(blocks.APPROVE_ACTION)(handlers.on_approve)
    app.action(blocks.REJECT_ACTION)(handlers.on_reject)
    app.action(blocks.EDIT_ACTION)(handlers.on_edit)
    app.action(re.compile(f"^{blocks.ANSWER_ACTION}:"))(handlers.on_answer)
    app.action(blocks.TAKE_ACTION)(handlers.on_take)
    app.action(blocks.BREAK_GLASS_ACTION)(handlers.on_break_glass)
    app.action(blocks.ACKNOWLEDGE_ACTION)(handlers.on_acknowledge)
    app.view(blocks.REJECT_VIEW)(handlers.on_reject_reason)
    app.view(blocks.EDIT_VIEW)(handlers.on_edit_submitted)
    app.view(blocks.BREAK_GLASS_VIEW)(handlers.on_break_glass_reason)
    if slash is not None:
        app.command(commands.COMMAND)(slash.on_command)
        app.shortcut(commands.SHORTCUT)(slash.on_shortcut)
        app.view(commands.ASK_VIEW)(slash.on_ask_submitted)
    # Registered last, so they only see what no listener above took: nothing gets a 404.
    app.action(ANYTHING)(handlers.on_unknown_action)
    app.view(ANYTHING)(handlers.on_other_view)
    app.event(ANYTHING)(handlers.on_other_event)
    return app


async def on_error(error: Exception, logger: logging.Logger) -> BoltResponse:
    """Redis trouble is a 500, so Slack delivers the event again; a payload that Bolt or a
    listener cannot take is a 400 (logged with its traceback), never a 500 to retry forever."""
    if isinstance(error, RedisError):
        logger.warning("Redis unavailable; Slack will retry: %s", error)
        return BoltResponse(status=500, body="temporarily unavailable")
    logger.error("a Slack payload we cannot take", exc_info=error)
    return BoltResponse(status=400, body="malformed Slack payload")
