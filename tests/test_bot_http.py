"""The Telegram transport over real HTTP: aiogram's polling loop against the fake Bot API.

Most tests run the real conversation service on a migrated test database;
tests about transport mechanics (ordering, errors, shutdown, uploads) use a
small scripted conversation so that timing and failures are under control.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Dispatcher
from aiohttp import web

from bot.app import (
    create_bot,
    create_dispatcher,
    create_webhook_app,
    poll,
    set_commands,
)
from bot.callbacks import MAX_APPLICATION_ID, DialogCallback, largest_packed_length
from bot.config import TelegramConfig
from bot.keyboards import reply_markup
from bot.routers.commands import COMMANDS
from bot.texts import texts
from dialogs.i18n import Locale
from dialogs.loader import load_registry
from dialogs.service import Conversation
from dialogs.ui import (
    Action,
    Button,
    ButtonIn,
    CommandIn,
    FileIn,
    Inbound,
    Outcome,
    Reply,
    TextIn,
    UnsupportedIn,
    UserRef,
)
from storage.db import SessionFactory
from storage.files import FileStore
from studiobot.app import serve_telegram
from studiobot.settings import Settings
from tests.fakebotapi import DEFAULT_TOKEN, FakeBotAPI

USER = 1001
ZH = Locale("zh-CN")
BOT = texts("zh-CN")
REGISTRY = load_registry()


def config_for(api: FakeBotAPI, **overrides: Any) -> TelegramConfig:
    values: dict[str, Any] = {"token": DEFAULT_TOKEN, "api_url": api.url, "polling_timeout": 5}
    return TelegramConfig(**{**values, **overrides})


@asynccontextmanager
async def polling(config: TelegramConfig, conversation: Any) -> AsyncIterator[Dispatcher]:
    """The production polling loop in a background task, stopped on exit."""
    bot = create_bot(config)
    dispatcher = create_dispatcher(config, conversation)
    task = asyncio.create_task(poll(dispatcher, bot, config, handle_signals=False))
    try:
        yield dispatcher
    finally:
        with suppress(RuntimeError):  # "Polling is not started": the test stopped it already
            await dispatcher.stop_polling()
        await task
        await bot.session.close()


@pytest.fixture
def conversation(sessions: SessionFactory, file_store: FileStore) -> Conversation:
    return Conversation(registry=REGISTRY, sessions=sessions, files=file_store)


@pytest.fixture
async def telegram(api: FakeBotAPI, conversation: Conversation) -> AsyncIterator[FakeBotAPI]:
    """The fake server with the real bot and conversation polling it."""
    async with polling(config_for(api), conversation):
        yield api


class Scripted:
    """A conversation stand-in: records events, replies by a script, can be slow or fail."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Inbound, tuple[str, int] | None]] = []
        self.active: set[str] = set()
        self.overlaps: list[str] = []
        self.delays: dict[str, float] = {}
        self.fail_on: set[str] = set()
        self.fetched: list[bytes] = []

    async def handle(
        self, user: UserRef, event: Inbound, *, update_key: tuple[str, str] | None = None
    ) -> Outcome:
        label = event.text if isinstance(event, TextIn) else type(event).__name__
        if user.external_id in self.active:
            self.overlaps.append(label)
        self.active.add(user.external_id)
        try:
            self.events.append((user.external_id, event, update_key))
            await asyncio.sleep(self.delays.get(label, 0))
            if label in self.fail_on:
                raise RuntimeError(f"scripted failure on {label}")
            if isinstance(event, FileIn):
                self.fetched.append(await event.fetch())
            return Outcome(
                replies=[Reply(text=f"got {label}", buttons=[[Button("again", Action.MENU)]])],
                toast="ok" if isinstance(event, ButtonIn) else None,
            )
        finally:
            self.active.discard(user.external_id)


# ---------------------------------------------------------------------- callback data


def test_callback_data_fits_telegram_limit() -> None:
    assert largest_packed_length() <= 64
    data = DialogCallback(
        a=Action.ROW_DELETE_OK, g=12, p=MAX_APPLICATION_ID, r=999_999_999, k="cccc-model"
    )
    assert DialogCallback.unpack(data.pack()).to_event() == ButtonIn(
        Action.ROW_DELETE_OK, 12, MAX_APPLICATION_ID, 999_999_999, "cccc-model"
    )
    assert data.pack().startswith("d2:15:")


def test_keyboard_from_reply() -> None:
    assert reply_markup(Reply(text="no buttons")) is None
    markup = reply_markup(
        Reply(
            text="q",
            buttons=[[Button("⬅️ 上一步", Action.BACK)], [Button("A", Action.CHOOSE, 2)]],
            application_id=7,
            revision=3,
        )
    )
    assert markup is not None
    assert [[b.callback_data for b in row] for row in markup.inline_keyboard] == [
        ["d2:4:0:7:3:"],
        ["d2:7:2:7:3:"],
    ]


# ---------------------------------------------------------------------- real conversation


async def test_start_and_help(telegram: FakeBotAPI) -> None:
    telegram.send_command(USER, "start")
    [welcome] = await telegram.wait_for_reply(USER)
    assert "创新工作室申报助手" in (welcome.text or "")
    assert welcome.parse_mode is None
    assert welcome.buttons
    telegram.send_command(USER, "HELP")
    [help_message] = await telegram.wait_for_reply(USER)
    assert (help_message.text or "").startswith("使用说明")


async def test_apply_offers_one_button_per_program(telegram: FakeBotAPI) -> None:
    telegram.send_command(USER, "apply")
    [menu] = await telegram.wait_for_reply(USER)
    assert menu.labels == [p.button_title for p in REGISTRY]
    assert "大连市总工会 · 劳模创新工作室" in menu.labels
    assert all(len(row) == 1 for row in menu.buttons)


async def test_pressing_a_program_starts_the_dialog(telegram: FakeBotAPI) -> None:
    telegram.send_command(USER, "apply")
    [menu] = await telegram.wait_for_reply(USER)
    telegram.press_button(USER, "大连市总工会 · 职工创新工作室（岗）")
    intro, question = await telegram.wait_for_reply(USER)
    assert "职工创新工作室（岗）申报表" in (intro.text or "")
    assert (question.text or "").startswith("第 1/")
    assert "保存并退出" in " ".join(question.labels)
    assert telegram.unanswered_callbacks() == []
    assert menu.buttons == []  # the pressed keyboard is gone
    telegram.send_text(USER, "大连某某公司")
    [second] = await telegram.wait_for_reply(USER)
    assert (second.text or "").startswith("第 2/")


async def test_stale_button_gets_a_polite_answer_and_the_current_question(
    telegram: FakeBotAPI,
) -> None:
    telegram.send_command(USER, "apply")
    await telegram.wait_for_reply(USER)
    telegram.press_button(USER, 0)
    _intro, first = await telegram.wait_for_reply(USER)
    telegram.send_text(USER, "大连某某公司")
    [second] = await telegram.wait_for_reply(USER)
    telegram.press_button(USER, "保存并退出", message=first)  # the old question's button
    [again] = await telegram.wait_for_reply(USER)
    assert again.text == second.text
    assert telegram.answered_callbacks[-1].text == ZH.t("engine.stale")
    assert telegram.unanswered_callbacks() == []


async def test_same_update_twice_is_handled_once(telegram: FakeBotAPI) -> None:
    telegram.send_command(USER, "apply")
    await telegram.wait_for_reply(USER)
    press = telegram.press_button(USER, 0)
    await telegram.wait_for_reply(USER)
    telegram.send_text(USER, "大连某某公司")
    [second] = await telegram.wait_for_reply(USER)
    answer = telegram.send_text(USER, "2026-05-20")
    [third] = await telegram.wait_for_reply(USER)
    assert (third.text or "").startswith("第 3/")
    telegram.inject(answer)  # Telegram delivers it again
    telegram.inject(press)
    await telegram.settle()
    assert telegram.pending_updates == 0
    # Nothing changes; the user is shown where they are (a first reply may have been lost).
    assert [m.text for m in telegram.new_messages(USER)] == [third.text, third.text]
    # The repeated press did reach the bot (it answered again, which Telegram refuses).
    assert [c.status for c in telegram.calls_to("answerCallbackQuery")] == [200, 400]
    assert second.text != third.text


async def test_unsupported_content_gets_a_hint_and_the_dialog_continues(
    telegram: FakeBotAPI,
) -> None:
    telegram.send_command(USER, "apply")
    await telegram.wait_for_reply(USER)
    telegram.press_button(USER, 0)
    _intro, question = await telegram.wait_for_reply(USER)
    for send, word in (
        (telegram.send_sticker, "贴纸"),
        (telegram.send_voice, "语音"),
        (telegram.send_location, "位置"),
    ):
        send(USER)
        hint, repeated = await telegram.wait_for_reply(USER)
        assert word in (hint.text or "")
        assert repeated.text == question.text
    telegram.send_text(USER, "大连某某公司")
    [second] = await telegram.wait_for_reply(USER)
    assert (second.text or "").startswith("第 2/")


async def test_flood_limit_is_waited_out_and_retried(telegram: FakeBotAPI) -> None:
    telegram.flood_next("sendMessage", retry_after=1)
    telegram.send_command(USER, "start")
    [welcome] = await telegram.wait_for_reply(USER, timeout=10)
    assert "创新工作室申报助手" in (welcome.text or "")
    assert [c.status for c in telegram.calls_to("sendMessage")] == [429, 200]


async def test_blocked_user_does_not_stop_the_bot(telegram: FakeBotAPI) -> None:
    telegram.block_next("sendMessage")
    telegram.send_command(USER, "start")
    await telegram.settle()
    assert telegram.sent_to(USER) == []
    telegram.block_user(2002)
    telegram.send_command(2002, "apply")
    telegram.send_command(USER, "help")
    [help_message] = await telegram.wait_for_reply(USER)
    assert (help_message.text or "").startswith("使用说明")
    assert telegram.sent_to(2002) == []


async def test_unreadable_button_is_answered(telegram: FakeBotAPI) -> None:
    telegram.send_command(USER, "apply")
    [menu] = await telegram.wait_for_reply(USER)
    telegram.press(USER, menu, "d0:old-layout")
    telegram.press(USER, menu, "d1:99:0:0:0")  # an action this release does not know
    await telegram.settle()
    assert [a.text for a in telegram.answered_callbacks] == [BOT.t("bot.stale")] * 2
    assert telegram.unanswered_callbacks() == []
    assert menu.buttons == []
    assert telegram.new_messages(USER) == []


async def test_edited_message_is_ignored_politely(telegram: FakeBotAPI) -> None:
    original = telegram.send_command(USER, "start")
    await telegram.wait_for_reply(USER)
    telegram.edit_message(USER, original, "/help")
    [hint] = await telegram.wait_for_reply(USER)
    assert hint.text == BOT.t("bot.edited")


async def test_quick_messages_of_one_user_are_answered_in_order(telegram: FakeBotAPI) -> None:
    telegram.send_command(USER, "start")
    telegram.send_command(USER, "help")
    telegram.send_command(USER, "apply")
    await telegram.settle()
    texts = [m.text or "" for m in telegram.new_messages(USER)]
    assert len(texts) == 3
    assert "申报助手" in texts[0]
    assert texts[1].startswith("使用说明")
    assert texts[2] == ZH.t("engine.choose_program")


async def test_command_menu_in_both_languages(api: FakeBotAPI) -> None:
    config = config_for(api)
    bot = create_bot(config)
    try:
        await set_commands(bot, config)
    finally:
        await bot.session.close()
    default = api.commands[("default", "")]
    assert [c["command"] for c in default] == list(COMMANDS)
    assert default[1]["description"] == "填写申报表"
    assert api.commands[("default", "zh")] == default
    assert api.commands[("default", "en")][1]["description"] == "Fill in a declaration form"


async def test_run_polling_serves_until_sigterm(
    api: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    """The way ``studiobot run`` serves: settings build the conversation, the
    transport gets it with its own config (``run_polling``)."""
    data_dir = tmp_path / "data"
    settings = Settings(_env_file=None, database_url=database_url, data_dir=data_dir)
    api.webhook = {"url": "https://old.example/hook", "secret_token": None, "allowed_updates": None}
    runner = asyncio.create_task(serve_telegram(settings, config_for(api)))
    await api.wait_for(lambda: bool(api.calls_to("getUpdates")), timeout=30)
    assert api.webhook is None
    assert ("default", "") in api.commands
    allowed = api.calls_to("getUpdates")[0].params["allowed_updates"]
    assert {"message", "callback_query", "edited_message"} <= set(allowed)
    api.send_command(USER, "start")
    [welcome] = await api.wait_for_reply(USER)
    assert "申报助手" in (welcome.text or "")
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(runner, timeout=10)


async def test_studiobot_run_in_another_process(
    api: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "STUDIOBOT_BOT_TOKEN": DEFAULT_TOKEN,
        "STUDIOBOT_TELEGRAM_API_URL": api.url,
        "STUDIOBOT_DATABASE_URL": database_url,
        "STUDIOBOT_DATA_DIR": str(tmp_path / "data"),
        "STUDIOBOT_POLLING_TIMEOUT": "5",
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "studiobot"),
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        api.send_command(USER, "apply")
        [menu] = await api.wait_for_reply(USER, timeout=60)
        assert menu.labels == [p.button_title for p in REGISTRY]
        api.press_button(USER, 1)
        # The intro, maybe the year's deadline already passed (a real clock), the question.
        *_intro, question = await api.wait_for_reply(USER)
        assert (question.text or "").startswith("第 1/")
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]


# ---------------------------------------------------------------------- transport mechanics


async def test_every_event_kind_reaches_the_conversation(api: FakeBotAPI) -> None:
    script = Scripted()
    async with polling(config_for(api), script):
        api.send_command(USER, "status")
        api.send_command(USER, "whatever")
        api.send_text(USER, "hello")
        api.send_photo(USER, b"\xff\xd8\xff" + b"j" * 2000)
        api.send_document(USER, b"%PDF-1.7", "简历.pdf", "application/pdf")
        api.send_contact(USER)
        api.send_message(USER, dice={"emoji": "🎲", "value": 3})
        await api.wait_for_messages(USER, 7)
        api.press_button(USER, "again")
        await api.wait_for_messages(USER, 1)
        await api.settle()
    events = [e for _, e, _ in script.events]
    assert events[:3] == [CommandIn("status"), CommandIn("whatever"), TextIn("hello")]
    photo, document = events[3], events[4]
    assert isinstance(photo, FileIn)
    assert isinstance(document, FileIn)
    assert (photo.kind, photo.mime_type, photo.size) == ("photo", "image/jpeg", 2003)
    assert (document.kind, document.file_name, document.mime_type) == (
        "document",
        "简历.pdf",
        "application/pdf",
    )
    assert script.fetched == [b"\xff\xd8\xff" + b"j" * 2000, b"%PDF-1.7"]
    assert events[5:7] == [UnsupportedIn("contact"), UnsupportedIn("dice")]
    pressed = events[7]
    assert isinstance(pressed, ButtonIn)
    assert pressed.action is Action.MENU
    keys = [key for _, _, key in script.events]
    # Update ids are numbered per bot, so the bot's id is part of the key.
    assert all(key is not None and key[0] == "telegram:123456" for key in keys)
    assert len(set(keys)) == len(keys)
    assert [a.text for a in api.answered_callbacks] == ["ok"]
    assert all(m.parse_mode is None for m in api.sent_to(USER))


async def test_failure_in_the_engine_is_reported_to_the_user(api: FakeBotAPI) -> None:
    script = Scripted()
    script.fail_on = {"boom", "ButtonIn"}
    async with polling(config_for(api), script):
        api.send_text(USER, "hello")
        await api.wait_for_messages(USER, 1)
        api.send_text(USER, "boom")
        [apology] = await api.wait_for_messages(USER, 1)
        assert apology.text == BOT.t("bot.error")
        api.press_button(USER, "again")
        [apology] = await api.wait_for_messages(USER, 1)
        assert apology.text == BOT.t("bot.error")
        api.send_text(USER, "still here")
        [reply] = await api.wait_for_messages(USER, 1)
        assert reply.text == "got still here"
    assert [a.text for a in api.answered_callbacks] == [BOT.t("bot.error")]


async def test_stopping_lets_the_update_in_hand_finish(api: FakeBotAPI) -> None:
    script = Scripted()
    script.delays = {"slow": 0.5}
    async with polling(config_for(api), script) as dispatcher:
        api.send_text(USER, "slow")
        await api.wait_for(lambda: bool(script.active), timeout=5)
        await dispatcher.stop_polling()
    assert [m.text for m in api.sent_to(USER)] == ["got slow"]


async def test_webhook_serialises_each_user_and_checks_the_secret(api: FakeBotAPI) -> None:
    script = Scripted()
    script.delays = {"first": 0.3}
    config = config_for(api, webhook_url="https://bot.example.org/", webhook_secret="s3cret-token")
    assert config.webhook_target() == "https://bot.example.org/telegram/webhook"
    bot = create_bot(config)
    dispatcher = create_dispatcher(config, script)
    runner = web.AppRunner(create_webhook_app(config, bot, dispatcher))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}{config.webhook_path}"

    try:
        async with aiohttp.ClientSession() as http:
            headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}

            async def post(body: dict[str, Any], secret: dict[str, str] = headers) -> int:
                async with http.post(url, json=body, headers=secret) as resp:
                    return resp.status

            def text(user_id: int, value: str) -> dict[str, Any]:
                return api.message_update(user_id, text=value)

            assert await post(text(USER, "forged"), {}) == 401

            async def after(delay: float, body: dict[str, Any]) -> int:
                await asyncio.sleep(delay)
                return await post(body)

            statuses = await asyncio.gather(
                post(text(USER, "first")),
                after(0.05, text(USER, "second")),
                after(0.1, text(2002, "other user")),
            )
            assert list(statuses) == [200, 200, 200]
    finally:
        await runner.cleanup()
        await bot.session.close()
    order = [e.text for _, e, _ in script.events if isinstance(e, TextIn)]
    assert order.index("first") < order.index("second")
    assert "forged" not in order
    assert script.overlaps == []
    assert dispatcher["serial_per_user"]._locks == {}  # locks are not kept
    # The other user was not held up by the first user's slow update.
    assert order.index("other user") < order.index("second")
    assert [m.text for m in api.sent_to(USER)] == ["got first", "got second"]
