"""Bot API servers that are not Telegram: emulators and local servers that leave
out fields, lack methods, or answer an empty long poll at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from aiogram.methods import GetMe, GetUpdates
from aiogram.methods.base import Response
from aiogram.types import Update, User

from bot.callbacks import DialogCallback
from bot.compat import tolerant_loads
from bot.middlewares import PatientPolling
from studiobot.app import serve_telegram
from studiobot.settings import Settings
from tests.fakebotapi import DEFAULT_TOKEN, FakeBotAPI

USER = 3003


def test_missing_fields_are_completed() -> None:
    me = tolerant_loads(json.dumps({"ok": True, "result": {"id": 1, "first_name": "bot"}}))
    assert Response[User].model_validate(me).result.is_bot is True  # type: ignore[union-attr]

    sparse = {
        "ok": True,
        "result": [
            {
                "update_id": 7,
                "callback_query": {
                    "id": "q",
                    "from": {"id": 5, "first_name": "张"},
                    "message": {"chat": {"id": 5, "type": "private"}, "text": "x"},
                    "data": "d1:2:0:0:0",
                },
            }
        ],
    }
    parsed = Response[list[Update]].model_validate(tolerant_loads(json.dumps(sparse)))
    assert parsed.result is not None
    query = parsed.result[0].callback_query
    assert query is not None
    assert query.from_user.is_bot is False
    assert query.chat_instance == "0"
    assert query.message is not None


def test_telegram_responses_pass_unchanged() -> None:
    full = {
        "ok": True,
        "result": [
            {
                "update_id": 8,
                "message": {
                    "message_id": 3,
                    "date": 1700000000,
                    "chat": {"id": 5, "type": "private"},
                    "from": {"id": 5, "is_bot": False, "first_name": "张"},
                    "text": "hello",
                },
            }
        ],
    }
    assert tolerant_loads(json.dumps(full)) == full


def test_a_webhook_update_is_completed_not_mistaken_for_an_error() -> None:
    update = {"update_id": 9, "callback_query": {"id": "q", "from": {"id": 5, "first_name": "张"}}}
    loaded = tolerant_loads(json.dumps(update))
    assert loaded["update_id"] == 9
    assert loaded["callback_query"]["chat_instance"] == "0"
    assert loaded["callback_query"]["from"]["is_bot"] is False


def test_a_bare_error_body_becomes_an_api_error() -> None:
    body = tolerant_loads('{"message": "API method setMyCommands is not supported"}')
    assert body == {
        "ok": False,
        "error_code": 500,
        "description": "API method setMyCommands is not supported",
    }
    assert Response[bool].model_validate(body).ok is False


async def test_an_empty_poll_answered_at_once_pauses() -> None:
    patient = PatientPolling(pause=0.2)
    calls = 0

    async def empty(bot: Any, method: Any) -> list[Update]:
        nonlocal calls
        calls += 1
        return []

    loop = asyncio.get_running_loop()
    started = loop.time()
    await patient(empty, None, GetUpdates(timeout=30))  # type: ignore[arg-type]
    assert loop.time() - started >= 0.2
    started = loop.time()
    await patient(empty, None, GetMe())  # type: ignore[arg-type]
    assert loop.time() - started < 0.1
    assert calls == 2


async def test_the_bot_runs_without_a_command_menu_and_takes_sparse_presses(
    database_url: str, tmp_path: Path
) -> None:
    async with FakeBotAPI() as api:
        api.fail_next("setMyCommands", 5, status=404, description="Not Found: method not found")
        api.fail_next("deleteWebhook", 1, status=404, description="Not Found: method not found")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token=DEFAULT_TOKEN,
            telegram_api_url=api.url,
            database_url=database_url,
            data_dir=tmp_path / "data",
            polling_timeout=2,
        )
        runner = asyncio.create_task(serve_telegram(settings, settings.telegram()))
        try:
            await api.wait_for(lambda: bool(api.calls_to("getUpdates")), timeout=30)
            api.send_command(USER, "apply")
            [menu] = await api.wait_for_reply(USER)
            data = menu.button(0).callback_data
            assert data is not None
            assert DialogCallback.unpack(data).g == 0
            # A press as a lenient emulator sends it: no chat_instance, a bare message.
            api.inject_update(
                {
                    "callback_query": {
                        "id": "emulated-1",
                        "from": {"id": USER, "first_name": "张"},
                        "message": {"chat": {"id": USER, "type": "private"}, "text": menu.text},
                        "data": data,
                    }
                }
            )
            replies = await api.wait_for_reply(USER)
            assert any((m.text or "").startswith("第 1/") for m in replies)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(runner, timeout=15)
