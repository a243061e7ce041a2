"""The GitHub Actions deploy adapter (`workflow_dispatch`); the signed-webhook one is in
`tools/deploy.py`.

GitHub Actions: `deploy` and `rollback` dispatch the workflow
(`POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches`) on `ref` with the inputs
`action` (deploy | rollback), `service`, `version` (empty for "the previous one"),
`environment` and `idempotency_key`. An approved call, when HITL_RECEIPT_SECRET is set, also
has `receipt` and `arguments` (the approved arguments as canonical JSON): the workflow declares
both inputs and first runs `verify(receipt, secret, action, json.loads(arguments))` from
`tools/receipt_verify.py`, then uses the values in `arguments`. GitHub has no idempotency for
dispatches, so the workflow should dedupe on `idempotency_key`
(e.g. `concurrency: {group: ${{ inputs.idempotency_key }}}`) and name its runs after the
inputs (`run-name: ${{ inputs.action }} ${{ inputs.service }} ${{ inputs.version }} to
${{ inputs.environment }}`), which is what `list_recent_deploys` shows. `list_versions` reads
the repository's tags: `<service>-1.2.3`, `<service>/v1.2.3`, `<service>@1.2.3`, or
plain `v1.2.3` when no tag names the service."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx

from tools.deploy import Deploy, ListRecentDeploys, ListVersions, Rollback
from tools.types import ToolOutput, utcnow
from tools.webhook import answer

GITHUB_API_URL = "https://api.github.com"
_SEMVER = r"v?(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)"


class GitHubActionsDeployer:
    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        token: str,
        repo: str,
        workflow: str,
        ref: str = "main",
        api_url: str = GITHUB_API_URL,
    ) -> None:
        self._client = client
        self._repo = repo
        self._workflow = workflow
        self._ref = ref
        self._api = api_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    async def deploy(
        self, call: Deploy, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        inputs = {"service": call.service, "version": call.version}
        signed = _signed_inputs(call.model_dump(mode="json", exclude={"intent"}), receipt)
        return await self._dispatch(
            "deploy", inputs, call.environment, idempotency_key, signed=signed
        )

    async def rollback(
        self, call: Rollback, *, idempotency_key: str, receipt: str | None = None
    ) -> ToolOutput:
        inputs = {"service": call.service, "version": call.to_version or ""}
        signed = _signed_inputs(call.model_dump(mode="json", exclude={"intent"}), receipt)
        return await self._dispatch(
            "rollback", inputs, call.environment, idempotency_key, signed=signed
        )

    async def list_versions(self, call: ListVersions) -> ToolOutput:
        tags = await self._get(f"/repos/{self._repo}/tags", {"per_page": 100})
        names = [str(tag.get("name", "")) for tag in tags if isinstance(tag, dict)]
        own = re.compile(rf"^{re.escape(call.service)}[-/@]{_SEMVER}$")
        versions = [m[1] for m in map(own.match, names) if m]
        if not versions:
            versions = [m[1] for m in map(re.compile(rf"^{_SEMVER}$").match, names) if m]
        return {"service": call.service, "versions": versions}

    async def recent_deploys(self, call: ListRecentDeploys) -> ToolOutput:
        since = (utcnow() - timedelta(hours=call.hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        path = f"/repos/{self._repo}/actions/workflows/{self._workflow}/runs"
        body = await self._get(path, {"per_page": 20, "created": f">={since}"})
        runs = body.get("workflow_runs", []) if isinstance(body, dict) else []
        deploys = [
            {
                "title": run.get("display_title"),
                "status": run.get("status"),
                "conclusion": run.get("conclusion"),
                "at": run.get("created_at"),
                "url": run.get("html_url"),
            }
            for run in runs
        ]
        return {"hours": call.hours, "deploys": deploys}

    async def _dispatch(
        self,
        action: str,
        inputs: dict[str, str],
        environment: str,
        idempotency_key: str,
        *,
        signed: dict[str, str],
    ) -> ToolOutput:
        path = f"/repos/{self._repo}/actions/workflows/{self._workflow}/dispatches"
        all_inputs = {
            "action": action,
            **inputs,
            "environment": environment,
            "idempotency_key": idempotency_key,
            **signed,
        }
        body = {"ref": self._ref, "inputs": all_inputs}
        response = await self._request("POST", path, json=body)
        answer(response, "github")
        return {
            "action": action,
            **inputs,
            "environment": environment,
            "status": "dispatched",
            "workflow": self._workflow,
            "ref": self._ref,
            "runs_url": f"https://github.com/{self._repo}/actions/workflows/{self._workflow}",
        }

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        response = await self._request("GET", path, params=params)
        if not response.is_success:
            answer(response, "github")  # raises with GitHub's message
        return response.json()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._client.request(
                method, self._api + path, headers=self._headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise RuntimeError(f"github unreachable: {type(exc).__name__}") from exc


def _signed_inputs(arguments: dict[str, Any], receipt: str | None) -> dict[str, str]:
    """The `receipt` input and the exact approved `arguments` (canonical JSON) it is verified
    against; none without a receipt, so a workflow that does not declare them keeps working.
    Seven inputs in all, within GitHub's limit of ten per workflow_dispatch."""
    if receipt is None:
        return {}
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
    return {"receipt": receipt, "arguments": canonical}
