"""Tools that contact a human or end the run. They are never executed; the loop pauses on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

ActionT = TypeVar("ActionT", bound=BaseModel)


class RequestApproval(BaseModel, Generic[ActionT]):
    """Ask a person to approve one exact tool call before it runs."""

    intent: Literal["request_approval"] = "request_approval"
    action: ActionT = Field(description="The exact tool call to run once approved.")
    summary: str = Field(description="One line telling the approver what will happen and why.")


def approval_parameters(intents: Sequence[str]) -> dict[str, Any]:
    """`request_approval`'s parameters as the model sees them. The action is named by its tool
    (`intent`, one of `intents`) and its arguments are that tool's, which the model has in the
    tool's own schema: repeating every business tool's schema here cost more tokens than all the
    other tools together. The call is still validated against the tool's own model."""
    fields = RequestApproval.model_fields
    action = (
        f"{fields['action'].description} `intent` names the tool; the other keys are its "
        "arguments, as that tool takes them."
    )
    return {
        "type": "object",
        "properties": {
            "action": {
                "type": "object",
                "description": action,
                "properties": {"intent": {"enum": list(intents)}},
                "required": ["intent"],
            },
            "summary": {"type": "string", "description": fields["summary"].description},
        },
        "required": ["action", "summary"],
    }


class RequestInput(BaseModel):
    """Ask the people in the thread for information you lack."""

    intent: Literal["request_input"] = "request_input"
    question: str = Field(description="A short, specific question.", max_length=500)
    options: list[Annotated[str, Field(min_length=1, max_length=75)]] = Field(
        default_factory=list,
        max_length=5,
        description="Up to 5 short answers to offer as buttons; empty for a free-text answer.",
    )


class Escalate(BaseModel):
    """Hand the thread to the on-call person when you are stuck or the matter is urgent."""

    intent: Literal["escalate"] = "escalate"
    reason: str = Field(description="Why a person must take over, in one or two sentences.")
    urgency: Literal["low", "high"] = "high"


class DoneForNow(BaseModel):
    """Finish the run with a final message to the thread."""

    intent: Literal["done_for_now"] = "done_for_now"
    message: str = Field(description="What happened, for the people in the thread.")
