"""Settings from the environment (names are a stable contract, see DESIGN.md)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agents.runtime.receipts import ReceiptSigner
from bot.api_auth import ApiToken, all_tokens


class Settings(BaseSettings):
    # Errors never echo a value: it may be a secret (an API token, a webhook secret).
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    redis_url: str = "redis://localhost:6379/0"
    llm_provider: Literal["offline", "openai", "anthropic"] = "offline"
    llm_model: str | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: str | None = None
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: str | None = None
    hitl_approvers: Annotated[frozenset[str], NoDecode] = frozenset()
    hitl_agents: Annotated[tuple[str, ...], NoDecode] = ("deploy", "access", "incident")
    """The micro-agents to run, in routing order (bot/agent_loading.py, docs/agents.md)."""
    hitl_escalation_channel: str | None = None
    hitl_approval_timeout: int = Field(default=3600, gt=0)
    hitl_oncall: str | None = None
    hitl_api_token: str | None = None
    hitl_api_tokens: str | None = Field(default=None, repr=False)
    """Named, scoped API tokens: `ci=SECRET:launch+read,ops=SECRET:respond+read` (see
    bot/api_auth.py); checked when the settings load, parsed by `api_tokens()`."""
    hitl_log_format: Literal["json", "text"] | None = None
    hitl_lease_ms: int = Field(default=15_000, gt=0)
    hitl_job_claim_ms: int = Field(default=60_000, gt=0)
    hitl_worker_concurrency: int = Field(default=512, gt=0)
    """Threads one worker process runs at once (still one step at a time per thread)."""
    hitl_http_connections: int | None = Field(default=None, gt=0)
    """Connections each process keeps open to Slack, and to the LLM provider, at most (one
    shared pool each); unset: as many as HITL_WORKER_CONCURRENCY, one per running thread."""
    hitl_reconcile_seconds: float = Field(default=10.0, gt=0)
    """How often each worker looks for threads that are stuck (see agents/runtime/reconciler.py)."""
    hitl_slack_timeout: float = Field(default=10.0, gt=0)
    """Seconds before a Slack Web API call counts as failed (and is retried through the outbox)."""
    hitl_simulated_deploy_seconds: float = Field(default=0.0, ge=0)
    hitl_policy_file: Path | None = None
    hitl_audit_retention_days: int = Field(default=400, gt=0)
    """Audit log entries are kept at least this many days (agents/runtime/audit.py)."""
    # Tool adapters (README: "Agents and their adapters"); unset means the simulated ones.
    hitl_resource_owners: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    hitl_github_token: str | None = None
    hitl_github_repo: str | None = None
    hitl_github_workflow: str = "deploy.yml"
    hitl_github_ref: str = "main"
    hitl_github_api_url: str = "https://api.github.com"
    hitl_deploy_webhook_url: str | None = None
    hitl_deploy_webhook_secret: str | None = None
    hitl_access_webhook_url: str | None = None
    hitl_access_webhook_secret: str | None = None
    hitl_incidents_webhook_url: str | None = None
    hitl_incidents_webhook_secret: str | None = None
    # The requests API's decision webhooks (bot/callbacks.py).
    hitl_callback_secret: str | None = Field(default=None, repr=False)
    """Signs decision webhooks; a request with a `callback_url` needs it."""
    hitl_callback_hosts: Annotated[frozenset[str], NoDecode] = frozenset()
    """If set, the only hosts a `callback_url` may name (`hooks.example.com,127.0.0.1`)."""
    hitl_callback_attempts: int = Field(default=6, ge=1, le=20)
    """Tries of one decision webhook (1 s, 2 s, 4 s... apart) before it is recorded failed."""
    # Approval receipts.
    hitl_receipt_secret: str | None = Field(default=None, repr=False)
    """Signs approval receipts (agents/runtime/receipts.py); unset: no receipts are made."""
    hitl_receipt_validity: int = Field(default=900, gt=0)
    """Seconds an approval receipt stays valid after the decision."""

    @field_validator("hitl_resource_owners", mode="before")
    @classmethod
    def _owners(cls, value: object) -> object:
        """`billing-db=U0DBA,analytics=S0DATA`: resource -> who approves access to it."""
        if isinstance(value, str):
            pairs = (part.partition("=") for part in value.split(",") if part.strip())
            return {name.strip(): owner.strip() for name, _, owner in pairs}
        return value

    @field_validator("hitl_approvers", "hitl_callback_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("hitl_agents", mode="before")
    @classmethod
    def _agent_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("hitl_api_tokens")
    @classmethod
    def _tokens(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A ValueError names the entry, never a secret (and errors hide their input).
        all_tokens(single=info.data.get("hitl_api_token"), named=value)
        return value or None

    def api_tokens(self) -> tuple[ApiToken, ...]:
        """HITL_API_TOKEN (named `default`, every scope) and HITL_API_TOKENS."""
        return all_tokens(single=self.hitl_api_token, named=self.hitl_api_tokens)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base_url and method names by plain concatenation.
        return value if value.endswith("/") else value + "/"

    def webhook(self, family: str) -> tuple[str | None, str | None]:
        """HITL_<FAMILY>_WEBHOOK_URL and _SECRET: fields for the built-in families, and the
        environment by the same names for a tool family of your own (docs/agents.md)."""
        name = f"hitl_{family}_webhook"
        if f"{name}_url" in type(self).model_fields:
            return getattr(self, f"{name}_url"), getattr(self, f"{name}_secret")
        upper = name.upper()
        return os.environ.get(f"{upper}_URL") or None, os.environ.get(f"{upper}_SECRET") or None

    def receipt_signer(self) -> ReceiptSigner | None:
        """What signs approval receipts, or None when HITL_RECEIPT_SECRET is not set."""
        if not self.hitl_receipt_secret:
            return None
        validity = timedelta(seconds=self.hitl_receipt_validity)
        return ReceiptSigner(self.hitl_receipt_secret, validity=validity)

    @property
    def http_connections(self) -> int:
        """HITL_HTTP_CONNECTIONS, or the worker concurrency when unset."""
        return self.hitl_http_connections or self.hitl_worker_concurrency

    @property
    def redis_connections(self) -> int:
        """Redis connections a process may need at once: one per running thread, and a few
        for the worker's blocking read, deadlines and lease renewals."""
        return self.hitl_worker_concurrency + 32

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)
