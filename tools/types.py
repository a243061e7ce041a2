"""What every tool family shares: the tool model base with its policy facts, the typed adapter
lookup a tool runs with, and `ToolFamily`, the one place a family is declared.

`tools/` is a leaf: it imports nothing from `agents/` or `bot/`. Whoever builds an adapter gives
it what it needs from outside (a simulated adapter's Redis key, a webhook)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel
from redis.asyncio import Redis

ToolOutput = dict[str, Any]
AdapterT = TypeVar("AdapterT")


def utcnow() -> datetime:
    return datetime.now(UTC)


class RetryableToolError(Exception):
    """A failure the model can fix (bad argument, unknown service); it sees it as an error."""


class Tool(Protocol):
    """A business tool: a pydantic model with an `intent`, run separately from its description,
    and the facts policy needs about one call (see `ToolModel` for the defaults)."""

    @property
    def intent(self) -> str: ...

    def summary(self) -> str: ...

    def fields(self) -> list[Shown]: ...

    def model_dump(self, *, mode: str = ..., exclude: set[str] | None = ...) -> dict[str, Any]: ...

    def gated_by_default(self) -> bool: ...

    def beneficiary(self) -> str | None: ...

    def owner_key(self) -> str | None: ...

    def needs_authority(self) -> bool: ...

    async def run(self, ctx: ToolContext) -> ToolOutput: ...


@dataclass(frozen=True)
class Shown:
    """One argument of a call as people see it on an approval card: a humane label and the
    value as code renders it. `user` marks a Slack user ID, which the card shows as a mention."""

    label: str
    value: str
    user: bool = False


NOT_GIVEN = "not given"
SLACK_USER = r"^[UW][A-Z0-9]+$"
"""A Slack user ID (U…, or W… in Enterprise Grid)."""


def label(name: str, title: str | None = None) -> str:
    """A field's label for people: its title, else its name ("duration_hours" -> "Duration
    hours")."""
    return title or name.replace("_", " ").capitalize()


def shown_value(value: object) -> str:
    """An argument's value as text: None or empty as "not given", booleans as yes/no."""
    if value is None or value == "":
        return NOT_GIVEN
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fixed_fields(tool: type[BaseModel]) -> frozenset[str]:
    """The arguments of `tool` an approver's edit may not change: those its schema marks
    `readOnly` (what the call is, who gains from it)."""
    properties = tool.model_json_schema().get("properties", {})
    return frozenset(name for name, spec in properties.items() if spec.get("readOnly"))


_SAY_NOTHING: tuple[object, ...] = (None, "", [], {})


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as a model needs it, every token billed on each step: no `title`s (they repeat
    the names), no defaults that say nothing (null, empty), and an optional field as its own
    type (`anyOf [X, null]` with default null is X, left out of `required`). What validates a
    call is untouched: this shapes only what the model reads."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value in _SAY_NOTHING):
            continue
        if key in ("properties", "$defs"):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [compact_schema(sub) for sub in value]
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = compact_schema(value)
        else:
            out[key] = value
    branches = out.get("anyOf")
    if schema.get("default", 0) is None and isinstance(branches, list) and len(branches) == 2:
        rest = [b for b in branches if b != {"type": "null"}]
        if len(rest) == 1:
            del out["anyOf"]
            out = rest[0] | out
    return out


def call_parameters(tool: type[BaseModel]) -> dict[str, Any]:
    """A business tool's parameters as the model sees them: its compact schema without the
    `intent`, which the call's name carries (the model clients put it back from the name), and
    without the docstring, which is the call's description already."""
    schema = compact_schema(tool.model_json_schema())
    schema.pop("description", None)
    schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k != "intent"}
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name != "intent"]
    return schema


class ToolModel(BaseModel):
    """Base of the business tool models: what a tool tells policy and people, with the common
    defaults. Override on the tools where the answer differs."""

    def fields(self) -> list[Shown]:
        """Every argument as people see it on the approval card, in declaration order: labelled
        by the field's `title` or its name ("duration_hours" -> "Duration hours"). Override
        where a value reads better rendered (a duration, a user, a default)."""
        shown = []
        for name, info in type(self).model_fields.items():
            if name == "intent":
                continue
            shown.append(Shown(label(name, info.title), shown_value(getattr(self, name, None))))
        return shown

    def gated_by_default(self) -> bool:
        """Whether this call needs a person's approval when no policy rule says otherwise."""
        return False

    def beneficiary(self) -> str | None:
        """The person the call is done for, if not the requester (the grantee of a grant)."""
        return None

    def owner_key(self) -> str | None:
        """What the call acts on that has an owner who approves it (the resource of a grant);
        policy looks the owner up under this key."""
        return None

    def needs_authority(self) -> bool:
        """Whether the call is destructive enough that it runs at once only for someone with
        authority over it (its beneficiary, the owner of what it acts on, an approver); anyone
        else's call waits for their approval."""
        return False


@dataclass(frozen=True)
class AdapterKey(Generic[AdapterT]):
    """Names one family's adapter in an `AdapterSet`; declared by the family, typed by its
    Protocol: `DEPLOYER = AdapterKey[Deployer]("deploy")`."""

    name: str

    def bind(self, adapter: AdapterT) -> tuple[str, object]:
        """A type-checked entry for `AdapterSet.of`."""
        return (self.name, adapter)


@dataclass(frozen=True)
class AdapterSet:
    """The adapters the tools run with, one per family, looked up by typed key."""

    by_name: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, *entries: tuple[str, object]) -> AdapterSet:
        return cls(dict(entries))

    def get(self, key: AdapterKey[AdapterT]) -> AdapterT:
        """The adapter under `key`; a family an agent's tools do not use may be absent."""
        if key.name not in self.by_name:
            raise missing(key.name)
        return cast(AdapterT, self.by_name[key.name])


@dataclass(frozen=True)
class SimulatedStore:
    """Where a simulated adapter records what it would have done: a Redis hash `key`, kept for
    `ttl` seconds after the last write. Given by whoever builds the adapter."""

    redis: Redis
    key: str
    ttl: int


class Scheduler(Protocol):
    """Runs a tool call in a thread later, durably (the revocation of a grant on expiry)."""

    async def schedule_call(
        self, thread_id: str, call: dict[str, Any], *, at: datetime
    ) -> None: ...


@dataclass(frozen=True)
class ToolContext:
    """Passed to `tool.run`. The idempotency key is stable for one tool call, so a retried step
    never repeats the side effect."""

    thread_id: str
    requester: str
    idempotency_key: str
    adapters: AdapterSet = field(default_factory=AdapterSet)
    scheduler: Scheduler | None = None
    now: datetime | None = None
    receipt: str | None = None
    """The signed receipt of the approval this call runs under (agents/runtime/receipts.py);
    None for a call nobody had to approve, or when no HITL_RECEIPT_SECRET is set. Adapters
    send it to the executor, which may verify it (tools/receipt_verify.py)."""

    def adapter(self, key: AdapterKey[AdapterT]) -> AdapterT:
        """The family's adapter; raises "no <family> adapter is configured" when absent."""
        return self.adapters.get(key)


class Webhook(Protocol):
    """A signed webhook (`tools/webhook.py`), as the webhook adapters use it."""

    async def call(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        receipt: str | None = None,
    ) -> ToolOutput: ...


@dataclass(frozen=True)
class ToolFamily(Generic[AdapterT]):
    """One family of business tools, declared once next to its tools: the tool models, the key
    its adapter is found under, and how to build its simulated adapter (from the Redis hash it
    records in, named by `records`) and its signed-webhook adapter. An agent registers the
    family with one line (`families=` of its `Agent`); the family's policy facts are methods
    on its tool models."""

    tools: tuple[type[ToolModel], ...]
    key: AdapterKey[AdapterT]
    simulated: Callable[[SimulatedStore], AdapterT]
    webhook: Callable[[Webhook], AdapterT]
    records: str
    """What the simulated adapter records, in Redis under `hitl:sim:<records>`."""

    @property
    def name(self) -> str:
        """The family's name: its adapter key, its settings (`HITL_<NAME>_WEBHOOK_URL`)."""
        return self.key.name


def missing(adapter: str) -> RuntimeError:
    return RuntimeError(f"no {adapter} adapter is configured")
