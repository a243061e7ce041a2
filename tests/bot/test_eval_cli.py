"""`hitl eval` as a user runs it (a real subprocess): against the offline model, and against a
configured provider that is a fake OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

from tests.agents.models.fake_providers import FakeProvider, openai_text, openai_tool_call
from tests.support import cli_env, hitl

EVALS = Path(__file__).parents[1] / "evals"


async def test_every_transcript_passes_against_the_offline_model(redis_server: str) -> None:
    proc = await hitl("eval", "--dir", str(EVALS), environ=cli_env(redis_server))
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    rows = lines[1:-1]
    assert {row.split()[0] for row in rows} == {"deploy", "access", "incident"}
    assert all("PASS" in row for row in rows)
    assert lines[-1] == f"{len(rows)}/{len(rows)} cases passed (model: offline)"


async def test_a_provider_is_replayed_and_failures_are_shown(
    provider: FakeProvider, redis_server: str, tmp_path: Path
) -> None:
    (tmp_path / "deploy.yaml").write_text(
        """agent: deploy
cases:
  - name: production is gated
    text: deploy api 1.4.2 to production
    steps:
      - expect: {intent: request_approval, action: {service: api, environment: production}}
  - name: missing version is asked
    text: deploy api to staging
    steps:
      - expect: {intent: request_input}
"""
    )
    prod = {"service": "api", "version": "1.4.2", "environment": "production"}
    # A direct gated call counts as the approval request policy turns it into; prose is junk.
    provider.script(openai_tool_call("deploy", prod), openai_text("Which version?"))
    environ = cli_env(
        redis_server,
        LLM_PROVIDER="openai",
        LLM_MODEL="gpt-test",
        OPENAI_BASE_URL=f"{provider.url}/v1",
        OPENAI_API_KEY="sk-test",
    )
    proc = await hitl("eval", "--dir", str(tmp_path), environ=environ)
    out, _ = await proc.communicate()
    assert proc.returncode == 1
    lines = out.decode().splitlines()
    assert "production is gated" in lines[1] and "PASS" in lines[1]
    assert "missing version is asked" in lines[2] and "FAIL" in lines[2]
    assert "invalid output" in lines[2]
    assert lines[-1] == "1/2 cases passed (model: openai gpt-test)"
    assert len(provider.requests) == 2
    assert provider.requests[0].headers["authorization"] == "Bearer sk-test"
