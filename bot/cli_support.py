"""What the operator commands (`hitl threads ...`, `hitl audit ...`) share: finding the Redis and
Slack to talk to (the environment, else a running sandbox), and failing with one line."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.sandbox_state import running_sandbox
from bot.settings import Settings

USAGE_ERROR = 2
"""Exit code for an expected failure the operator can fix (no Redis, unknown thread...)."""
REFUSED = 1
"""Exit code when the bot refused what was asked (a policy refusal)."""


class CommandFailed(Exception):
    """An expected failure: `hitl` prints `hitl: <message>` on stderr and exits `code`."""

    def __init__(self, message: str, *, code: int = USAGE_ERROR) -> None:
        super().__init__(message)
        self.code = code


def with_sandbox(settings: Settings) -> Settings:
    """`settings`, with what the environment leaves unset taken from a running sandbox: its
    Redis when REDIS_URL is unset, its emulator when SLACK_BOT_TOKEN is unset and the Redis is
    the sandbox's (a message posted in the emulator means nothing to another Redis's workers)."""
    sandbox = running_sandbox()
    if sandbox is None:
        return settings
    update: dict[str, str] = {}
    if "redis_url" not in settings.model_fields_set:
        update["redis_url"] = sandbox.redis_url
    redis_url = update.get("redis_url", settings.redis_url)
    if not settings.slack_bot_token and redis_url == sandbox.redis_url:
        update |= {
            "slack_bot_token": sandbox.slack_bot_token,
            "slack_api_url": sandbox.slack_api_url,
        }
    return settings.model_copy(update=update)


def require_slack(settings: Settings) -> str:
    """The bot token to post with; never falls through to slack.com without one."""
    if not settings.slack_bot_token:
        raise CommandFailed(
            "SLACK_BOT_TOKEN is not set — start the sandbox with `make run` (and leave "
            "REDIS_URL unset), or set SLACK_BOT_TOKEN"
        )
    return settings.slack_bot_token


async def reachable(redis: Redis, url: str) -> None:
    """Fail with one line unless Redis at `url` answers."""
    try:
        await redis.ping()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise CommandFailed(
            f"no Redis at {shown_url(url)} — start the sandbox with `make run`, or set REDIS_URL"
        ) from exc


def shown_url(url: str) -> str:
    """`url` without its database path and with any password masked: it goes to a terminal."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.password:
        host = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, host, "", "", ""))
