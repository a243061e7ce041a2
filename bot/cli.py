"""The `hitl` command (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bot import audit_cli, eval_cli, logs, mcp_stdio, prompt_cli, runners, threads_cli
from bot.cli_support import CommandFailed, with_sandbox
from bot.services import ConfigError, agents_for
from bot.settings import Settings


def _parser(agent_names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hitl",
        description="slack-hitl: a Slack bot whose agents ask humans before risky steps. "
        "With no command: `serve` when Slack credentials are set, else `sandbox`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('slack-hitl')}")
    sub = parser.add_subparsers(dest="command")
    sandbox = sub.add_parser("sandbox", help="local Slack emulator + bot; no workspace or key")
    sandbox.add_argument("--port", type=int, default=3000, help="web UI port (default 3000)")
    sandbox.add_argument("--data-dir", type=Path, default=Path(".sandbox"))
    serve = sub.add_parser("serve", help="HTTP mode: POST /slack/events, GET /healthz")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-worker", action="store_true", help="only enqueue; run `hitl worker`")
    socket = sub.add_parser("socket", help="Socket Mode (needs SLACK_APP_TOKEN)")
    socket.add_argument("--no-worker", action="store_true")
    sub.add_parser("worker", help="take agent steps from the job stream")
    sub.add_parser("mcp", help="the human-contact tools as an MCP server on stdio")
    threads_cli.add_parser(sub)
    prompt_cli.add_parser(sub, agent_names)
    eval_cli.add_parser(sub, agent_names)
    audit_cli.add_parser(sub)
    return parser


def _command(args: argparse.Namespace, settings: Settings) -> Coroutine[Any, Any, None]:
    match args.command:
        case "sandbox":
            return runners.sandbox(settings, port=args.port, data_dir=args.data_dir.absolute())
        case "serve":
            return runners.serve(
                settings, host=args.host, port=args.port, with_worker=not args.no_worker
            )
        case "socket":
            return runners.socket_mode(settings, with_worker=not args.no_worker)
        case "worker":
            return runners.worker(settings)
        case "mcp":
            return mcp_stdio.serve_stdio(with_sandbox(settings))
        case "threads":
            return threads_cli.run(args, with_sandbox(settings))
        case "prompt":
            return prompt_cli.run(args, settings)
        case "eval":
            return eval_cli.run(args, settings)
        case "audit":
            return audit_cli.run(args, with_sandbox(settings))
        case _:
            raise AssertionError(args.command)


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    try:
        agent_names = [agent.name for agent in agents_for(settings)]
    except ConfigError as exc:
        sys.exit(f"hitl: {exc}")
    args = _parser(agent_names).parse_args(argv)
    # A person reads the sandbox and one-off commands; servers and workers feed log pipelines.
    interactive = args.command in (None, "sandbox", "threads", "prompt", "eval", "audit")
    logs.configure(settings.hitl_log_format or ("text" if interactive else "json"))
    if args.command is None:
        args = _parser(agent_names).parse_args(
            ["serve" if settings.has_slack_credentials else "sandbox"]
        )
    try:
        asyncio.run(_command(args, settings))
    except ConfigError as exc:
        sys.exit(f"hitl: {exc}")
    except CommandFailed as exc:
        print(f"hitl: {exc}", file=sys.stderr)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        pass
