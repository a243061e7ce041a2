"""Tool policy: which calls need a person's approval, who may settle each human request, how
many approvals it needs and by when. Decided by code and the operator's policy file, never by
the model's prompt.

Each tool says what policy must know about a call (`tools/types.py::ToolModel`): whether it is
gated by default (production deploys and rollbacks, every access grant) and the key its owner
is found under (a grant's resource). A call with an owner is decided by that owner (`owners`,
or `HITL_RESOURCE_OWNERS`) unless a rule names approvers. A tool may also say who gains from a
call (`beneficiary()`, a grant's grantee): neither they nor the requester may approve it. A
destructive tool (`needs_authority()`, a revocation) runs at once only for someone with
authority over the call (its beneficiary, the owner, an approver); anyone else's call is gated.
A policy file (`HITL_POLICY_FILE`, YAML) adds rules; the first rule matching a call wins:

    rules:
      - tool: deploy
        when: {environment: production}
        approvers: [S0SRE, U0LEAD]   # user and user-group IDs; default HITL_APPROVERS
        quorum: 2                    # distinct approvers needed
        timeout: 1800                # seconds; default HITL_APPROVAL_TIMEOUT
        break_glass: true            # the requester may approve it alone, with a reason
        notify: both                 # thread | dm | both: named deciders get the card by DM
      - tool: deploy
        when: {service: docs}
        gated: false
    oncall: S0ONCALL                 # who `escalate` pages; default the approvers
    owners:                          # who approves access to each resource
      billing-db: U0DBA
    limits:                          # every matching limit applies, not only the first
      - tool: grant_access
        when: {level: admin}         # matched like a rule's `when`
        max: {duration_hours: 4}     # a numeric argument -> its largest allowed value

A call over a limit is never offered for approval: the model is told which argument is over
(`over_limit`) and may ask again, and an edit over a limit is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from agents.runtime.events import APPROVAL, ESCALATION, Terms
from tools.types import Tool

REMIND_AT = 0.8
"""A reminder goes out when this share of a request's time has passed."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str
    when: dict[str, str | int | bool] = Field(default_factory=dict)
    gated: bool | None = None
    approvers: tuple[str, ...] | None = None
    quorum: int = Field(default=1, ge=1)
    timeout: int | None = Field(default=None, gt=0)
    break_glass: bool = False
    notify: Literal["thread", "dm", "both"] | None = None
    """Whether named deciders also get the card by DM; default both (groups: thread only)."""

    def matches(self, call: dict[str, Any]) -> bool:
        """Whether the rule applies to `call` (`{"intent": ..., **arguments}`)."""
        return call.get("intent") == self.tool and all(
            call.get(key) == value for key, value in self.when.items()
        )


class Limit(BaseModel):
    """The largest value each numeric argument of a matching call may have."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tool: str
    when: dict[str, str | int | bool] = Field(default_factory=dict)
    # Strict: `"4"` or `true` is a mistake in the file, not a limit of 4 or 1.
    max: dict[str, StrictInt | StrictFloat] = Field(min_length=1)

    def matches(self, call: dict[str, Any]) -> bool:
        """Whether the limit applies to `call` (`{"intent": ..., **arguments}`)."""
        return call.get("intent") == self.tool and all(
            call.get(key) == value for key, value in self.when.items()
        )

    def breaches(self, call: dict[str, Any]) -> dict[str, str]:
        """Each argument of `call` over this limit -> why, said for the model and the editor
        (a missing or non-numeric argument is the tool's business, not ours)."""
        scope = " and ".join(f"{key} {value}" for key, value in self.when.items())
        where = f"{self.tool} with {scope}" if scope else self.tool
        found: dict[str, str] = {}
        for name, most in self.max.items():
            value = call.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > most:
                found[name] = f"{name} {value} is over the limit of {most} for {where}"
        return found


class PolicyFile(BaseModel):
    """The operator's policy file, validated."""

    model_config = ConfigDict(extra="forbid")
    rules: tuple[Rule, ...] = ()
    limits: tuple[Limit, ...] = ()
    oncall: str | None = None
    owners: dict[str, str] = Field(default_factory=dict)


class PolicyError(ValueError):
    """The policy file cannot be used; the message says where and why."""


def misnamed(policy: PolicyFile, tools: Collection[type[BaseModel]]) -> list[str]:
    """Where the policy file names a tool or an argument that the loaded agents do not have: a
    typo there would silently leave a call ungated or unlimited. Empty when all is well."""
    by_name = {m.model_fields["intent"].default: m for m in tools}
    problems: list[str] = []
    entries: list[tuple[str, int, str, Mapping[str, object], Mapping[str, object]]]
    entries = [("rules", i, r.tool, r.when, {}) for i, r in enumerate(policy.rules)]
    entries += [("limits", i, lim.tool, lim.when, lim.max) for i, lim in enumerate(policy.limits)]
    for section, index, tool, when, most in entries:
        where = f"{section}.{index}"
        model = by_name.get(tool)
        if model is None:
            problems.append(f"{where}.tool: no tool {tool!r}; the agents have {sorted(by_name)}")
            continue
        fields = model.model_fields
        problems += [
            f"{where}.when.{key}: {tool} has no argument {key!r}"
            for key in when
            if key not in fields
        ]
        problems += [
            f"{where}.max.{key}: {tool} has no numeric argument {key!r}"
            for key in most
            if key not in fields or not _numeric(fields[key].annotation)
        ]
    return problems


def _numeric(annotation: Any) -> bool:
    """Whether an argument's type is a number (or an optional one)."""
    kinds = get_args(annotation) or (annotation,)
    return any(k in (int, float) for k in kinds)


def load_policy_file(path: Path) -> PolicyFile:
    try:
        return PolicyFile.model_validate(yaml.safe_load(path.read_text()) or {})
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise PolicyError(f"policy file {path}: {exc}") from exc


@dataclass(frozen=True)
class Policy:
    """The approvers and timeout from settings, with the policy file's rules, on-call and
    owners."""

    approvers: tuple[str, ...] = ()
    timeout: int = 3600
    rules: tuple[Rule, ...] = ()
    oncall: str | None = None
    owners: Mapping[str, str] = field(default_factory=dict)
    """Resource name -> the user or user-group ID who approves access to it."""
    limits: tuple[Limit, ...] = ()

    def over_limit(self, call: Tool) -> str | None:
        """Why `call` may not run as asked (the first breached limit of all that match), or
        None. Checked before a call is offered for approval, and again on an edit."""
        return next(iter(self.over_limits(call.model_dump(mode="json")).values()), None)

    def over_limits(self, dumped: dict[str, Any]) -> dict[str, str]:
        """Each argument of a call (`{"intent": ..., **arguments}`) over a matching limit ->
        why (the Edit form's errors)."""
        found: dict[str, str] = {}
        for limit in self.limits:
            if limit.matches(dumped):
                for argument, breach in limit.breaches(dumped).items():
                    found.setdefault(argument, breach)
        return found

    def rule(self, call: Tool) -> Rule | None:
        """The first rule that matches `call`, if any."""
        dumped = call.model_dump(mode="json")
        return next((rule for rule in self.rules if rule.matches(dumped)), None)

    def needs_approval(
        self, call: Tool, *, requester: str | None = None, allowed: Collection[str] | None = None
    ) -> bool:
        """Whether `call`, asked for by `requester`, must wait for a person's approval. A rule
        decides first, then the tool's own default; a call that needs authority is gated unless
        the requester is in `allowed`: the members of `authority(call)` with groups expanded
        (its IDs as they are, when not given). An unknown requester has no authority."""
        rule = self.rule(call)
        if rule is not None and rule.gated is not None:
            return rule.gated
        if call.gated_by_default():
            return True
        if not call.needs_authority():
            return False
        people = self.authority(call) if allowed is None else allowed
        return requester is None or requester not in people

    def authority(self, call: Tool) -> tuple[str, ...]:
        """Who may run a call that needs authority without asking: its beneficiary (someone
        giving up their own access), the owner of what it acts on, and the approvers (the
        matching rule's and the configured ones). User and user-group IDs."""
        rule = self.rule(call)
        named = (
            call.beneficiary(),
            self._owner(call),
            *self.approvers,
            *(rule.approvers or () if rule is not None else ()),
        )
        return tuple(dict.fromkeys(person for person in named if person))

    def terms(self, intent: str, *, action: Tool | None, now: datetime) -> Terms:
        """The terms of a new human request; `action` is the call a `request_approval` asks to
        run (None for other requests)."""
        if intent != APPROVAL:
            action = None
        rule = self.rule(action) if action is not None else None
        deciders = self.approvers
        owner = self._owner(action) if action is not None else None
        if owner is not None:
            deciders = (owner,)
        if rule is not None and rule.approvers is not None:
            deciders = rule.approvers
        if intent == ESCALATION and self.oncall:
            deciders = (self.oncall,)
        timeout = rule.timeout if rule and rule.timeout else self.timeout
        return Terms(
            deciders=deciders,
            quorum=rule.quorum if rule else 1,
            deadline=now + timedelta(seconds=timeout),
            remind_at=now + timedelta(seconds=timeout * REMIND_AT),
            break_glass=rule.break_glass if rule else False,
            notify=rule.notify if rule else None,
        )

    def _owner(self, action: Tool) -> str | None:
        key = action.owner_key()
        return None if key is None else self.owners.get(key)


# Who may settle a request. `allowed` is the request's deciders with groups expanded to their
# members, or None when it names nobody (then anyone may, but never the requester alone).


def gains_from(user: str, *, beneficiaries: Collection[str]) -> bool:
    """Whether `user` gains from the call (the grantee of a grant); they may not approve it."""
    return user in beneficiaries


def may_approve(
    user: str,
    *,
    requester: str,
    allowed: Collection[str] | None,
    beneficiaries: Collection[str] = (),
) -> bool:
    """Nobody approves their own request or a call they gain from (`beneficiaries`, the
    tool's `beneficiary()`); otherwise the deciders (anyone, if none are set). So a quorum
    counts distinct eligible people only."""
    if user == requester or gains_from(user, beneficiaries=beneficiaries):
        return False
    return allowed is None or user in allowed


def may_reject(user: str, *, requester: str, allowed: Collection[str] | None) -> bool:
    """Rejecting runs nothing, so the requester may withdraw their own request."""
    return user == requester or may_approve(user, requester=requester, allowed=allowed)


def may_answer(user: str, *, requester: str, allowed: Collection[str] | None) -> bool:
    """Questions are answered by the requester and the deciders (the approvers)."""
    return user == requester or (allowed is not None and user in allowed)


def may_take(user: str, *, allowed: Collection[str] | None) -> bool:
    """An escalation is taken by the on-call people (anyone, if none are set)."""
    return allowed is None or user in allowed
