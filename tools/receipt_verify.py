"""Verify a slack-hitl approval receipt (format: agents/runtime/receipts.py). Standard library
only: copy this file into the executor. `verify` returns the claims or raises ReceiptError."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class ReceiptError(ValueError):
    """The call must not run: the message says why."""


def arguments_hash(action: str, arguments: dict[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON of {"intent": action, **arguments}."""
    call = json.dumps({"intent": action, **arguments}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(call.encode()).hexdigest()


def verify(
    receipt: str, secret: str, action: str, arguments: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """The receipt's claims if it is signed with `secret`, unexpired, and for this exact call."""
    payload, _, signature = receipt.partition(".")
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise ReceiptError("receipt signature is not valid")
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    if (time.time() if now is None else now) >= claims["expires_at"]:
        raise ReceiptError("receipt has expired")
    if claims["action"] != action:
        raise ReceiptError(f"receipt approves {claims['action']!r}, not {action!r}")
    if not hmac.compare_digest(claims["args_sha256"], arguments_hash(action, arguments)):
        raise ReceiptError("arguments differ from the approved ones")
    return claims
