"""`hitl eval [--dir tests/evals] [--agent NAME]`: replay the scripted transcripts against the
configured model (LLM_PROVIDER; the offline model when none is set up) and print a pass table.
Exits non-zero when a case fails."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agents.models.llm_anthropic import AnthropicModel
from agents.models.llm_openai import OpenAIModel
from agents.models.offline import OfflineModel
from agents.runtime.agent import Agent
from agents.runtime.evals import Outcome, load_suites, run_case
from agents.runtime.types import Model
from bot.services import ConfigError, agents_for, model_for, policy_for
from bot.settings import Settings

DEFAULT_DIR = Path("tests/evals")


def add_parser(sub: Any, agent_names: list[str]) -> None:
    parser = sub.add_parser("eval", help="replay scripted transcripts against the model")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="transcripts (*.yaml)")
    parser.add_argument("--agent", choices=agent_names, help="only this agent")


def pick_model(settings: Settings, agents: list[Agent]) -> tuple[Model, str]:
    """The configured provider when it is usable, else the offline model."""
    if settings.llm_provider == "offline":
        return OfflineModel(agents), "offline"
    try:
        return model_for(settings, agents), f"{settings.llm_provider} {settings.llm_model}"
    except ConfigError as exc:
        print(f"hitl: {exc}; using the offline model", file=sys.stderr)
        return OfflineModel(agents), "offline"


def table(outcomes: list[Outcome], *, model: str) -> str:
    width = max([len(o.case) for o in outcomes] + [4])
    lines = [f"{'agent':<9} {'case':<{width}}  result  steps  problem"]
    for o in outcomes:
        result = "PASS" if o.ok else "FAIL"
        steps = f"{o.passed}/{o.expected}"
        lines.append(
            f"{o.agent:<9} {o.case:<{width}}  {result:<6}  {steps:<5}  {o.problem}".rstrip()
        )
    passed = sum(o.ok for o in outcomes)
    lines.append(f"{passed}/{len(outcomes)} cases passed (model: {model})")
    return "\n".join(lines)


async def run(args: argparse.Namespace, settings: Settings) -> None:
    if not args.dir.is_dir():
        raise ConfigError(f"no transcripts directory {args.dir}")
    agents = {agent.name: agent for agent in agents_for(settings)}
    model, label = pick_model(settings, list(agents.values()))
    policy = policy_for(settings, list(agents.values()))
    outcomes = []
    try:
        for suite in load_suites(args.dir):
            if args.agent and suite.agent != args.agent:
                continue
            if suite.agent not in agents:
                raise ConfigError(f"transcripts name an unknown agent {suite.agent!r}")
            for case in suite.cases:
                outcome = await run_case(
                    case, agent=agents[suite.agent], model=model, policy=policy
                )
                outcomes.append(outcome)
    finally:
        if isinstance(model, OpenAIModel | AnthropicModel):
            await model.aclose()
    print(table(outcomes, model=label))
    if not all(o.ok for o in outcomes):
        sys.exit(1)
