"""The emulator's state file: a stop and a start with the same state dir keep the workspace,
ids never repeat across restarts, and a whole sandbox restart keeps a pending approval
clickable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import simulated_store
from bot.emulator.server import SlackEmulator
from bot.emulator.state import Responder
from bot.runners import local_redis, sandbox_stack
from bot.settings import Settings
from tests.conftest import ALICE, BOB, DEPLOYS
from tests.support import approval_message, bot_replies, has_buttons
from tools.deploy import DEPLOY_TOOLS, SimulatedDeployer

OFFLINE = Settings(llm_provider="offline", hitl_approvers=frozenset())
TAG = {"event_type": "hitl_delivery", "event_payload": {"delivery_id": "d-1"}}
BUTTONS: list[dict[str, Any]] = [
    {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "r-1",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    }
]
MODAL = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Why?"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


async def started(state_dir: Path, **options: Any) -> SlackEmulator:
    emu = SlackEmulator(signing_secret="s", state_dir=state_dir, **options)
    await emu.start()
    return emu


def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-sandbox", base_url=emu.api_url)


async def test_a_restart_keeps_the_workspace(tmp_path: Path) -> None:
    first = await started(tmp_path)
    first.add_channel("C0NEW", "new")
    first.add_user("U0DAVE", "dave", real_name="Dave Ops")
    first.add_usergroup("S0OPS", ["U0BOB", "U0DAVE"])
    web = client(first)
    root = await web.chat_postMessage(channel="C0NEW", text="hi", blocks=BUTTONS, metadata=TAG)
    await web.chat_postMessage(channel="C0NEW", text="reply", thread_ts=root["ts"])
    await web.reactions_add(channel="C0NEW", timestamp=root["ts"], name="eyes")
    trigger = first.workspace.issue_trigger("U0BOB")
    view = (await web.views_open(trigger_id=trigger, view=MODAL))["view"]
    await first.stop()
    assert (tmp_path / "emulator.json").exists()

    second = await started(tmp_path)
    try:
        assert second.channels["C0NEW"] == "new"
        assert second.users["U0DAVE"].real_name == "Dave Ops"
        assert second.workspace.usergroups["S0OPS"] == ["U0BOB", "U0DAVE"]
        kept = second.find_message("C0NEW", root["ts"])
        assert (kept.blocks, kept.metadata, kept.reactions) == (
            BUTTONS,
            TAG,
            {"eyes": ["UHITLBOT"]},
        )
        assert [m.text for m in second.thread("C0NEW", root["ts"])] == ["hi", "reply"]
        assert [v.id for v in second.open_views("U0BOB")] == [view["id"]]
        found = await client(second).conversations_replies(
            channel="C0NEW", ts=root["ts"], include_all_metadata=True
        )
        assert found["messages"][0]["metadata"] == TAG
    finally:
        await second.stop()


async def test_state_is_saved_while_running_not_only_on_stop(tmp_path: Path) -> None:
    emu = await started(tmp_path)
    try:
        await client(emu).chat_postMessage(channel=DEPLOYS, text="saved soon")
        state = tmp_path / "emulator.json"
        await emu.wait_for(lambda: state.exists() and "saved soon" in state.read_text())
    finally:
        await emu.stop()


def issued(emu: SlackEmulator) -> tuple[str, str]:
    ws = emu.workspace
    return ws.next_ts(), ws.next_id("Ev")


def as_number(ts_or_id: str) -> float:
    return float(ts_or_id.lstrip("EvV"))


@pytest.mark.parametrize("lose_the_file", [False, True])
async def test_ids_keep_increasing_across_restarts(tmp_path: Path, lose_the_file: bool) -> None:
    first = await started(tmp_path)
    # Many ids at once run ahead of the clock; the saved counters carry them over.
    before = [issued(first) for _ in range(2000)]
    first.workspace.changed()
    await first.stop()
    if lose_the_file:
        # A crash before the last save: the wall clock alone keeps later ids apart,
        # for ids that did not run ahead of it.
        (tmp_path / "emulator.json").unlink()
        before = before[:1]
    second = await started(tmp_path)
    try:
        after = issued(second)
        assert as_number(after[0]) > max(as_number(ts) for ts, _ in before)
        assert as_number(after[1]) > max(as_number(i) for _, i in before)
    finally:
        await second.stop()


async def test_an_unreadable_state_file_is_moved_aside(tmp_path: Path) -> None:
    (tmp_path / "emulator.json").write_text("{not json")
    emu = await started(tmp_path)
    try:
        assert "C0DEPLOYS" in emu.channels
        assert (tmp_path / "emulator.unreadable.json").read_text() == "{not json"
    finally:
        await emu.stop()


async def test_a_response_url_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = await started(state)
    posted = await client(first).chat_postMessage(channel=DEPLOYS, text="x", blocks=BUTTONS)
    key = "k" * 16
    first.workspace.responders[key] = Responder(DEPLOYS, posted["ts"], BOB, ephemeral=False)
    first.workspace.changed()
    await first.stop()
    second = await started(state)
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{second.url}/response/{key}", json={"replace_original": True, "text": "done"}
            )
        assert answer.json() == {"ok": True}
        assert second.find_message(DEPLOYS, posted["ts"]).text == "done"
    finally:
        await second.stop()


async def test_a_sandbox_restart_keeps_a_pending_approval_clickable(tmp_path: Path) -> None:
    data = tmp_path / "sandbox"
    async with (
        local_redis(data / "redis") as redis,
        sandbox_stack(OFFLINE, redis_url=redis.url, retries=False, state_dir=data) as sandbox,
    ):
        assert not redis.in_memory, "this test needs redis-server on PATH"
        slack = sandbox.emulator
        mention = await slack.post_message(
            user=ALICE, channel=DEPLOYS, text="<@UHITLBOT> deploy api 1.4.2 to production"
        )
        root = mention.message.ts
        await slack.wait_for(lambda: any(map(has_buttons, bot_replies(slack, DEPLOYS, root))))
        seen_before = {m.ts for m in slack.messages}

    async with (
        local_redis(data / "redis") as redis,
        sandbox_stack(OFFLINE, redis_url=redis.url, retries=False, state_dir=data) as sandbox,
    ):
        slack = sandbox.emulator
        clicked = await slack.click(
            user=BOB, message=approval_message(slack, DEPLOYS, root), action_id="hitl_approve"
        )
        assert clicked.status_code == 200

        def deployed() -> bool:
            return any("Deployed api 1.4.2" in m.text for m in bot_replies(slack, DEPLOYS, root))

        await slack.wait_for(deployed, timeout=20)
        store = Redis.from_url(redis.url, decode_responses=True)
        try:
            runs = await SimulatedDeployer(simulated_store(store, DEPLOY_TOOLS)).deployments()
        finally:
            await store.aclose()
        assert [(d["service"], d["version"]) for d in runs] == [("api", "1.4.2")]
        new = [m.ts for m in slack.messages if m.ts not in seen_before]
        assert new and min(map(float, new)) > max(map(float, seen_before))
        assert slack.violations == []
    saved = json.loads((data / "emulator.json").read_text())
    assert any("Deployed api 1.4.2" in m["text"] for m in saved["messages"])
