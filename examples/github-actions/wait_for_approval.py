"""Wait in a GitHub Actions job until a person approves in Slack (slack-hitl's requests API).

Run by action.yml beside it; standard library only, because every runner has python3. Reads
its inputs from HITL_* environment variables, writes `request-id`, `status` and `approved-by`
to $GITHUB_OUTPUT, and exits 1 unless the request was approved."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

POLL_SECONDS = 30
SHORTEST_REQUEST_TIMEOUT = 60  # what the API accepts as `timeout_seconds` at least


def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One JSON call to the requests API; an HTTP error ends the step with the server's text."""
    request = urllib.request.Request(
        os.environ["HITL_URL"].rstrip("/") + "/api" + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {os.environ['HITL_TOKEN']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=POLL_SECONDS + 15) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def idempotency_key() -> str:
    """The same job attempt asks once, even if this step is retried; a re-run asks again."""
    parts = ("GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB")
    run = "/".join(os.environ.get(name, "local") for name in parts)
    return f"{run}/{os.environ['HITL_ACTION_NAME']}"


def ask(timeout: int) -> dict[str, Any]:
    return call(
        "POST",
        "/requests",
        {
            "kind": "approval",
            "channel": os.environ["HITL_CHANNEL"],
            "requested_by": os.environ.get("GITHUB_ACTOR") or "github-actions",
            "summary": os.environ["HITL_SUMMARY"],
            "action": {
                "name": os.environ["HITL_ACTION_NAME"],
                "arguments": json.loads(os.environ.get("HITL_ARGUMENTS") or "{}"),
            },
            "timeout_seconds": max(timeout, SHORTEST_REQUEST_TIMEOUT),
            "idempotency_key": os.environ.get("HITL_IDEMPOTENCY_KEY") or idempotency_key(),
        },
    )


def wait(request: dict[str, Any], timeout: int) -> dict[str, Any]:
    """Long-poll until decided; past the timeout (the server expires it too), cancel it."""
    deadline = time.monotonic() + timeout
    while request["status"] == "waiting":
        left = deadline - time.monotonic()
        if left <= 0:
            call("POST", f"/requests/{request['id']}/cancel")
            return call("GET", f"/requests/{request['id']}?wait=10")  # the cancel settles
        request = call("GET", f"/requests/{request['id']}?wait={min(POLL_SECONDS, int(left) + 1)}")
    return request


def write_outputs(request: dict[str, Any]) -> None:
    approved_by = [d["user"] for d in request["decisions"] if d["approved"]]
    outputs = {
        "request-id": request["id"],
        "status": request["status"],
        "approved-by": ",".join(approved_by),
    }
    with open(os.environ.get("GITHUB_OUTPUT", os.devnull), "a", encoding="utf-8") as out:
        out.writelines(f"{name}={value}\n" for name, value in outputs.items())


def main() -> int:
    timeout = int(os.environ.get("HITL_TIMEOUT") or 3600)
    try:
        request = ask(timeout)
        print(f"Waiting for approval in Slack (request {request['id']})", flush=True)
        request = wait(request, timeout)
    except urllib.error.HTTPError as error:
        print(f"::error::slack-hitl answered {error.code}: {error.read().decode(errors='replace')}")
        return 1
    write_outputs(request)
    if request["status"] == "approved":
        print(f"Approved by {', '.join(d['user'] for d in request['decisions'])}.")
        return 0
    reasons = "; ".join(d["reason"] for d in request["decisions"] if d["reason"])
    print(f"::error::Not approved: {request['status']}" + (f" ({reasons})" if reasons else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main())
