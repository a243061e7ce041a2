"""Named, scoped bearer tokens for the thread API.

`HITL_API_TOKENS="ci=<secret>:launch+read,ops=<secret>:respond+read"`: comma-separated
entries `NAME=SECRET:SCOPE+SCOPE`. A name is lower-case letters, digits, `-` or `_`; a secret
is at least 16 characters and holds no comma (it may hold `=` and `:`: the name ends at the
first `=`, the scopes start after the last `:`). `HITL_API_TOKEN` stays one token named
`default` with every scope. Errors name the entry, never its secret."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

Scope = Literal["launch", "respond", "read", "control", "request", "admin"]
"""launch: POST /api/threads · respond: answer a request on behalf of a Slack user · read: GET
threads · control: pause, resume, stop · request: the human-contact requests API (ask, read and
cancel requests under /api/requests) · admin: all of them."""

SCOPES: frozenset[str] = frozenset(get_args(Scope))
DEFAULT_NAME = "default"
MIN_SECRET = 16
_NAME = re.compile(r"[a-z0-9_-]{1,32}")


@dataclass(frozen=True)
class ApiToken:
    """One bearer token: a name for the audit trail, a secret kept out of reprs, its scopes."""

    name: str
    secret: str = field(repr=False)
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def via(self) -> str:
        """How an action taken with this token is recorded: `API token NAME`."""
        return f"API token {self.name}"


def parse_tokens(text: str) -> tuple[ApiToken, ...]:
    """Parse HITL_API_TOKENS; a ValueError says which entry is wrong without its secret."""
    tokens = tuple(
        _entry(part.strip(), index) for index, part in enumerate(text.split(",")) if part.strip()
    )
    names = [t.name for t in tokens]
    if len(set(names)) != len(names):
        raise ValueError("HITL_API_TOKENS: each token needs its own name")
    if len({t.secret for t in tokens}) != len(tokens):
        raise ValueError("HITL_API_TOKENS: two tokens share a secret")
    return tokens


def _entry(part: str, index: int) -> ApiToken:
    name, eq, rest = part.partition("=")
    secret, colon, scope_text = rest.rpartition(":")
    where = f"HITL_API_TOKENS entry {index + 1}"
    if not eq or not colon or not _NAME.fullmatch(name.strip()):
        raise ValueError(f"{where}: write NAME=SECRET:SCOPE+SCOPE (name: a-z, 0-9, - or _)")
    name = name.strip()
    if len(secret) < MIN_SECRET:
        raise ValueError(f"{where} ({name}): the secret needs at least {MIN_SECRET} characters")
    scopes = frozenset(s.strip() for s in scope_text.split("+") if s.strip())
    unknown = sorted(scopes - SCOPES)
    if unknown or not scopes:
        raise ValueError(
            f"{where} ({name}): unknown or missing scopes {unknown}; use {'+'.join(sorted(SCOPES))}"
        )
    return ApiToken(name=name, secret=secret, scopes=scopes)


def all_tokens(*, single: str | None, named: str | None) -> tuple[ApiToken, ...]:
    """HITL_API_TOKEN (all scopes, named `default`) plus HITL_API_TOKENS."""
    tokens = parse_tokens(named) if named else ()
    if single:
        if any(t.name == DEFAULT_NAME for t in tokens):
            raise ValueError("HITL_API_TOKENS: the name `default` is HITL_API_TOKEN's")
        tokens = (ApiToken(name=DEFAULT_NAME, secret=single, scopes=frozenset({"admin"})), *tokens)
    return tokens


def identify(tokens: tuple[ApiToken, ...], given: str) -> ApiToken | None:
    """The token whose secret is `given`. Every secret is compared, each in constant time over
    equal-length digests, so the answer's timing says nothing about which one (nearly) matched."""
    digest = hashlib.sha256(given.encode()).digest()
    found: ApiToken | None = None
    for token in tokens:
        if hmac.compare_digest(digest, hashlib.sha256(token.secret.encode()).digest()):
            found = token
    return found
