"""``studiobot run`` with DingTalk configured: the process serves DingTalk (alone,
without a Telegram token), its secret in no output, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakedingtalk import FakeDingTalk
from tests.test_cli import ROOT, studiobot


async def test_run_serves_dingtalk_alone(tmp_path: Path) -> None:
    fake = await FakeDingTalk(secret="very-secret-value").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIOBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        STUDIOBOT_DINGTALK_CLIENT_ID=fake.client_id,
        STUDIOBOT_DINGTALK_CLIENT_SECRET=fake.secret,
        STUDIOBOT_DINGTALK_API_URL=fake.url,
        STUDIOBOT_DINGTALK_GATEWAY_URL=fake.url,
        STUDIOBOT_DINGTALK_OAPI_URL=fake.url,
        STUDIOBOT_DINGTALK_CARD_TEMPLATE_ID="studiobot.card",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "studiobot.cli", "run",
        cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.wait_for(fake.connected.wait(), 60)
        await fake.acked(await fake.text("staff1", "/apply"), wait=30)
        assert fake.sent_to("staff1")
        assert fake.sent_to("staff1")[-1].card
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
        await fake.stop()
    assert process.returncode == 0, err.decode()
    assert b"very-secret-value" not in out + err


def test_half_the_dingtalk_credentials_is_said(tmp_path: Path) -> None:
    result = studiobot("run", cwd=tmp_path, env={"STUDIOBOT_DINGTALK_CLIENT_ID": "ding1"})
    assert result.returncode == 2
    assert "STUDIOBOT_DINGTALK_CLIENT_SECRET" in result.stderr


def test_run_without_any_channel_names_both(tmp_path: Path) -> None:
    result = studiobot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "STUDIOBOT_BOT_TOKEN" in result.stderr
    assert "STUDIOBOT_DINGTALK_CLIENT_ID" in result.stderr
