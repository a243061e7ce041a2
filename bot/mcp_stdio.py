"""`hitl mcp`: the MCP tools of bot/mcp_server.py over stdin/stdout, for an MCP client that
spawns the server itself. It only posts the asking message and enqueues jobs; the workers of
`hitl serve` or `hitl worker` do the rest."""

from __future__ import annotations

from bot.cli_support import require_slack
from bot.mcp_server import build_mcp
from bot.services import build_services
from bot.settings import Settings


async def serve_stdio(settings: Settings) -> None:
    """Serve the tools on stdio until the client closes stdin. Logs go to stderr: stdout is the
    protocol's. Next to a running `hitl sandbox`, unset REDIS_URL and SLACK_BOT_TOKEN are
    the sandbox's."""
    require_slack(settings)
    services = build_services(settings)
    try:
        await services.queue.setup()
        await build_mcp(services.requests).run_stdio_async()
    finally:
        await services.close()
