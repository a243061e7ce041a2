"""Failures on demand for the emulator's Web API: Slack's 5xx, 429, slow answers and refusals.

`SlackEmulator.fail/rate_limit/stall/refuse` add a `Fault`; each Web API call takes the first
fault that matches its method (and channel), in the order they were added. Every faulted call is
still recorded in `Workspace.calls` with `ApiCall.fault` saying what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.emulator.state import ApiCall, Fault, Workspace

# What a load balancer in front of Slack answers when Slack itself cannot.
_GATEWAY_PAGE = "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


def take(ws: Workspace, method: str, args: dict[str, Any]) -> Fault | None:
    """The first fault for this call, consumed once (unless it applies every time)."""
    for fault in ws.faults:
        if fault.method != method or not _same_channel(ws, fault.channel, args):
            continue
        if fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                ws.faults.remove(fault)
        return fault
    return None


def _same_channel(ws: Workspace, wanted: str | None, args: dict[str, Any]) -> bool:
    if wanted is None:
        return True
    given = str(args.get("channel", ""))
    return given == wanted or ws.channel_id(given) == wanted


Work = Callable[[], dict[str, Any]]


async def answer(
    ws: Workspace,
    fault: Fault,
    request: Request,
    method: str,
    args: dict[str, Any],
    work: Work,
    wake: asyncio.Event,
) -> Response:
    """Slack's answer to a call that hit `fault`; `work` runs the method and records it.
    `wake` cuts stalls short when the emulator stops."""
    note = fault.describe()
    if fault.kind == "stall":
        return await _stall(ws, fault, request, method, args, work, wake)
    if fault.after:
        work()
        ws.calls[-1].fault = note
    if fault.kind == "refuse":
        body: dict[str, Any] = {"ok": False, "error": fault.error}
        _record(ws, method, args, body, note, done=fault.after)
        return JSONResponse(body)
    if fault.kind == "rate_limit":
        body = {"ok": False, "error": "ratelimited"}
        _record(ws, method, args, body, note, done=fault.after)
        headers = {"Retry-After": str(fault.retry_after)}
        return JSONResponse(body, status_code=429, headers=headers)
    return _server_error(ws, fault, method, args, note)


def _server_error(
    ws: Workspace, fault: Fault, method: str, args: dict[str, Any], note: str
) -> Response:
    # A plain 500 comes from Slack itself (JSON); other 5xx from the gateway before it (HTML).
    if fault.status == 500:
        body: dict[str, Any] = {"ok": False, "error": "internal_error"}
        _record(ws, method, args, body, note, done=fault.after)
        return Response(json.dumps(body), fault.status, media_type="application/json")
    page = _GATEWAY_PAGE.format(status=fault.status)
    _record(ws, method, args, {"http_status": fault.status}, note, done=fault.after)
    return Response(page, fault.status, media_type="text/html")


async def _stall(
    ws: Workspace,
    fault: Fault,
    request: Request,
    method: str,
    args: dict[str, Any],
    work: Work,
    wake: asyncio.Event,
) -> Response:
    note = fault.describe()
    result = work() if fault.after else None
    if result is not None:
        ws.calls[-1].fault = note
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), fault.seconds)
    if result is None:
        # Slack gets to it only now: if the client gave up meanwhile, nothing was done.
        if await request.is_disconnected():
            _record(ws, method, args, {"client": "gone"}, f"{note}, not done", done=False)
            return Response(status_code=504)
        result = work()
        ws.calls[-1].fault = note
    return JSONResponse(result)


def _record(
    ws: Workspace,
    method: str,
    args: dict[str, Any],
    body: dict[str, Any],
    note: str,
    *,
    done: bool,
) -> None:
    if done:
        # The work was recorded already with its real answer; keep that, note what was sent.
        ws.calls[-1].response = ws.calls[-1].response | {"answered": body}
        return
    ws.calls.append(ApiCall(method, args, body, fault=note))
