"""The Bolt app: every listener is registered here, explicitly."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import blocks
from bot.handlers import Handlers

ANYTHING = re.compile(".*")


def build_bolt_app(*, client: AsyncWebClient, signing_secret: str, handlers: Handlers) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret)
    app.event("app_mention")(handlers.on_mention)
    app.event("message")(handlers.on_message)
    app.action(blocks.APPROVE_ACTION)(handlers.on_approve)
    app.action(blocks.REJECT_ACTION)(handlers.on_reject)
    app.action(blocks.EDIT_ACTION)(handlers.on_edit)
    app.action(re.compile(f"^{blocks.ANSWER_ACTION}:"))(handlers.on_answer)
    app.action(blocks.TAKE_ACTION)(handlers.on_take)
    app.view(blocks.REJECT_VIEW)(handlers.on_reject_reason)
    app.view(blocks.EDIT_VIEW)(handlers.on_edit_submitted)
    # Registered last, so they only see what no listener above took: nothing gets a 404.
    app.action(ANYTHING)(handlers.on_unknown_action)
    app.view(ANYTHING)(handlers.on_other_view)
    app.event(ANYTHING)(handlers.on_other_event)
    return app
