"""Tools that contact a human or end the run. They are never executed; the loop pauses on them."""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

ActionT = TypeVar("ActionT", bound=BaseModel)


class RequestApproval(BaseModel, Generic[ActionT]):
    """Ask a person to approve one exact tool call before it runs."""

    intent: Literal["request_approval"] = "request_approval"
    action: ActionT = Field(description="The exact tool call to run once approved.")
    summary: str = Field(description="One line telling the approver what will happen and why.")


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
