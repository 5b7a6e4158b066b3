"""The five real programs declared on Telegram, over HTTP, against the fake Bot API.

The real aiogram polling loop talks to the project's fake Bot API server; the
user only sends messages, photos and button taps.  Every seed form label must
have been shown to the user on the way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from pydantic import SecretStr

from bot.app import create_bot, create_dispatcher
from dialogs.loader import load_registry
from storage.db import SessionFactory
from studiobot.app import build_conversation
from studiobot.settings import Settings
from tests.fakebotapi import FakeBotAPI
from tests.test_program_definitions import FORM_LABELS, GROUP_COLUMNS
from tests.tg_driver import application, open_program, transcript, walk_on_telegram

REGISTRY = load_registry()
NOW = dt.datetime(2026, 5, 20, 2, 0, tzinfo=dt.UTC)


@dataclass
class Running:
    api: FakeBotAPI
    sessions: SessionFactory
    bot: Bot
    dispatcher: Dispatcher


@pytest.fixture
async def running(database_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    """A bot polling the fake Bot API, as `studiobot run` does, in this process."""
    api = await FakeBotAPI().start()
    settings = Settings(
        bot_token=SecretStr(api.token),
        telegram_api_url=api.url,
        database_url=database_url,
        data_dir=tmp_path / "data",
        polling_timeout=1,
    )
    conversation, engine = await build_conversation(settings, clock=lambda: NOW)
    config = settings.telegram()
    bot = create_bot(config)
    dispatcher = create_dispatcher(config, conversation)
    task = asyncio.create_task(
        dispatcher.start_polling(
            bot, polling_timeout=1, handle_signals=False, handle_as_tasks=False
        )
    )
    try:
        yield Running(api, conversation.sessions, bot, dispatcher)
    finally:
        await dispatcher.stop_polling()
        with suppress(asyncio.CancelledError, RuntimeError):
            await asyncio.wait_for(task, 10)
        await bot.session.close()
        await engine.dispose()
        await api.stop()


@pytest.mark.parametrize("program_id", [p.id for p in REGISTRY])
async def test_declare_on_telegram(running: Running, program_id: str) -> None:
    user_id = 7000 + [p.id for p in REGISTRY].index(program_id)
    api = running.api
    await open_program(api, REGISTRY, user_id, program_id)
    moves = await walk_on_telegram(
        api, running.sessions, REGISTRY, user_id, program_id, today=NOW.date()
    )
    assert moves > 10
    app = await application(running.sessions, user_id, program_id)
    assert app is not None
    assert app.status == "submitted"
    shown = transcript(api, user_id)
    columns = [c for cols in GROUP_COLUMNS.get(program_id, {}).values() for c in cols]
    missing = [label for label in FORM_LABELS[program_id] + columns if label not in shown]
    assert missing == []
    assert api.unanswered_callbacks() == []
    assert all(len(m.text) <= 4096 for m in api.sent_to(user_id))
