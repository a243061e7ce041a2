"""The one tool family of the human-contact requests API: an action another agent, a CI job or
a script wants a person to approve before it runs it itself. Running it here does nothing: the
caller learns the decision (and the arguments as finally approved) from the API or its webhook,
and acts on it."""

from __future__ import annotations

import ast
import json
from typing import Any, Literal

from pydantic import Field, field_validator

from tools.types import (
    SLACK_USER,
    AdapterKey,
    Shown,
    SimulatedStore,
    ToolContext,
    ToolFamily,
    ToolModel,
    ToolOutput,
    label,
)
from tools.types import Webhook as WebhookClient

EXTERNAL_INTENT = "external_action"
MAX_ARGUMENT_CHARS = 500
"""An argument longer than this is cut on the card (the stored call keeps all of it)."""


class ExternalAction(ToolModel):
    """An action outside this bot, named by its caller, with its exact arguments. Always gated:
    it exists only to be approved. `beneficiary` (a Slack user ID) is who gains from it, and so
    may not approve it."""

    intent: Literal["external_action"] = "external_action"
    # What the call is and who gains are the request itself: an approver's edit may change only
    # the arguments (readOnly: left off the edit form, and an edit that changes them is refused).
    name: str = Field(
        min_length=1,
        max_length=100,
        description="What the caller will run.",
        json_schema_extra={"readOnly": True},
    )
    arguments: dict[str, Any] = Field(default_factory=dict, description="Its exact arguments.")
    beneficiary_user: str | None = Field(
        default=None,
        pattern=SLACK_USER,
        description="Who gains from it, if anyone.",
        json_schema_extra={"readOnly": True},
    )

    @field_validator("arguments", mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        """An approver's edit arrives as text (the edit form shows the arguments as Python
        writes a dict): read it as JSON, or as a Python literal (never evaluated as code)."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            pass
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ValueError("write the arguments as a JSON object") from None

    def summary(self) -> str:
        return f"Run {self.name}"

    def fields(self) -> list[Shown]:
        """The action's name, then every argument as code renders it (JSON for non-text)."""
        shown = [Shown("Action", self.name)]
        for name, value in self.arguments.items():
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            if len(text) > MAX_ARGUMENT_CHARS:
                text = text[: MAX_ARGUMENT_CHARS - 1] + "…"
            shown.append(Shown(label(str(name)), text or "not given"))
        if self.beneficiary_user:
            shown.append(Shown("Beneficiary", self.beneficiary_user, user=True))
        return shown

    def gated_by_default(self) -> bool:
        return True

    def beneficiary(self) -> str | None:
        return self.beneficiary_user

    async def run(self, ctx: ToolContext) -> ToolOutput:
        # The caller runs it; approving is all that happens here.
        return {"approved": True, "name": self.name}


class _NoAdapter:
    """External actions need no adapter: the caller runs them."""


def _no_webhook(_: WebhookClient) -> _NoAdapter:
    return _NoAdapter()


def _simulated(_: SimulatedStore) -> _NoAdapter:
    return _NoAdapter()


EXTERNAL_TOOLS = ToolFamily[_NoAdapter](
    tools=(ExternalAction,),
    key=AdapterKey[_NoAdapter]("external"),
    simulated=_simulated,
    webhook=_no_webhook,
    records="external",
)
