"""The Bolt app: every listener is registered here, explicitly."""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import APPROVE_ACTION, REJECT_ACTION
from bot.handlers import Handlers


def build_bolt_app(*, client: AsyncWebClient, signing_secret: str, handlers: Handlers) -> AsyncApp:
    app = AsyncApp(client=client, signing_secret=signing_secret)
    app.event("app_mention")(handlers.on_mention)
    app.event("message")(handlers.on_message)
    app.action(APPROVE_ACTION)(handlers.on_decision)
    app.action(REJECT_ACTION)(handlers.on_decision)
    # Registered last, so it only sees buttons no other listener took.
    app.action(re.compile(".*"))(handlers.on_unknown_action)
    return app
