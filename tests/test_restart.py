"""Kill a real `studiobot run` process with SIGKILL in the middle of a dialog,
start it again, and finish the declaration: nothing that was answered is lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dialogs.loader import load_registry
from storage.db import SessionFactory, create_engine, session_factory
from tests.fakebotapi import FakeBotAPI
from tests.tg_driver import application, open_program, send_move, walk_on_telegram
from tests.walkthrough import Applicant

REGISTRY = load_registry()
PROGRAM = "dalian-model"
USER = 4242


class BotProcess:
    """`studiobot run` in a child process, pointed at the fake Bot API."""

    def __init__(self, api: FakeBotAPI, database_url: str, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "STUDIOBOT_BOT_TOKEN": api.token,
            "STUDIOBOT_TELEGRAM_API_URL": api.url,
            "STUDIOBOT_DATABASE_URL": database_url,
            "STUDIOBOT_DATA_DIR": str(data_dir),
            "STUDIOBOT_POLLING_TIMEOUT": "1",
        }
        self.api = api
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        polls = len(self.api.calls_to("getUpdates"))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "studiobot.cli",
            "run",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await self.api.wait_for(lambda: len(self.api.calls_to("getUpdates")) > polls, 60)
        except TimeoutError:
            err = b""
            if self.proc.returncode is not None and self.proc.stderr is not None:
                err = await self.proc.stderr.read()
            raise AssertionError(f"the bot did not start polling: {err.decode()[-2000:]}") from None

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        assert self.proc.returncode == -signal.SIGKILL

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def reader(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_sigkill_mid_dialog_then_finish(
    database_url: str, tmp_path: Path, reader: SessionFactory
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    api = await FakeBotAPI().start()
    bot = BotProcess(api, database_url, tmp_path / "data")
    try:
        await bot.start()
        await open_program(api, REGISTRY, USER, PROGRAM)
        await walk_on_telegram(api, reader, REGISTRY, USER, PROGRAM, today=today, stop_after=12)
        before = await application(reader, USER, PROGRAM)
        assert before is not None
        assert len(before.answers) >= 8

        # One more answer goes out, and the process dies at once, before or while handling it.
        program = REGISTRY.get(PROGRAM)
        assert program is not None
        move = Applicant(program, today).next_move(before.answers, before.cursor)
        await send_move(api, USER, move)
        await bot.kill()

        after_kill = await application(reader, USER, PROGRAM)
        assert after_kill is not None
        for key, value in before.answers.items():
            assert after_kill.answers[key] == value, f"answer {key} lost by the kill"

        await bot.start()
        # The update that was in flight is delivered again; it is applied at most once.
        await api.wait_for(lambda: api.pending_updates == 0, 30)
        await api.settle(quiet=0.3, timeout=30)
        resumed = await application(reader, USER, PROGRAM)
        assert resumed is not None
        assert resumed.revision >= before.revision

        await walk_on_telegram(api, reader, REGISTRY, USER, PROGRAM, today=today)
        final = await application(reader, USER, PROGRAM)
        assert final is not None
        assert final.status == "submitted"
        # A table still being filled in (a row in progress) goes on growing after the kill.
        in_progress = before.cursor.get("q")
        for key, value in before.answers.items():
            if key != in_progress:
                assert final.answers[key] == value
        assert api.unanswered_callbacks() == []
    finally:
        await bot.stop()
        await api.stop()
