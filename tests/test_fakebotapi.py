"""The fake Bot API behaves like Telegram where the bot's correctness depends on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from tests.fakebotapi import DEFAULT_TOKEN, FakeBotAPI


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    client = Bot(DEFAULT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.url)))
    try:
        yield client
    finally:
        await client.session.close()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=f"b{i}", callback_data=d)] for i, d in enumerate(data)
        ]
    )


async def test_get_me_and_token_check(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    wrong = Bot("999:WRONG", session=AiohttpSession(api=TelegramAPIServer.from_base(api.url)))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()
    finally:
        await wrong.session.close()


async def test_json_bodies_and_unknown_methods(api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{api.url}/bot{api.token}"
        async with http.post(f"{url}/sendMessage", json={"chat_id": 7, "text": "hi"}) as resp:
            body = await resp.json()
        assert body["ok"] is True
        assert body["result"]["chat"] == {"id": 7, "type": "private", "first_name": "User7"}
        async with http.post(f"{url}/noSuchMethod", json={}) as resp:
            assert resp.status == 404
            assert (await resp.json())["ok"] is False
    assert api.sent_to(7)[0].text == "hi"


async def test_updates_stay_until_a_later_offset_confirms_them(api: FakeBotAPI, bot: Bot) -> None:
    first = api.send_text(1, "one")
    second = api.send_command(1, "start")
    assert second["update_id"] > first["update_id"]
    got = await bot.get_updates(timeout=0)
    assert [u.update_id for u in got] == [first["update_id"], second["update_id"]]
    assert got[1].message is not None
    assert got[1].message.text == "/start"
    again = await bot.get_updates(timeout=0)
    assert len(again) == 2  # not confirmed yet
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=0) == []
    assert api.pending_updates == 0


async def test_long_poll_wakes_on_a_new_update(api: FakeBotAPI, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    api.send_text(1, "late")
    got = await poll
    assert [u.message.text for u in got if u.message] == ["late"]
    assert loop.time() - started < 2


async def test_limit_and_allowed_updates(api: FakeBotAPI, bot: Bot) -> None:
    for n in range(3):
        api.send_text(1, f"m{n}")
    assert len(await bot.get_updates(limit=2, timeout=0)) == 2
    api.edit_message(1, api.send_text(1, "typo"), "fixed")
    got = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert all(u.message is not None for u in got)
    assert [u["edited_message"]["text"] for u in api.dropped_updates] == ["fixed"]


async def test_newer_get_updates_terminates_the_older(api: FakeBotAPI, bot: Bot) -> None:
    old = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError):
        await old


async def test_reinjected_update_is_delivered_again(api: FakeBotAPI, bot: Bot) -> None:
    update = api.send_text(1, "answer")
    got = await bot.get_updates(timeout=0)
    await bot.get_updates(offset=got[-1].update_id + 1, timeout=0)
    api.send_text(1, "next")
    api.inject(update)
    redelivered = await bot.get_updates(timeout=0)
    assert [u.update_id for u in redelivered] == [update["update_id"] + 1, update["update_id"]]


async def test_send_message_limits(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(5, "x" * 4096, reply_markup=keyboard("a" * 64))
    assert sent.message_id == 1
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(5, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(5, "ok", reply_markup=keyboard("a" * 65))
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(5, "1 < 2 <tag>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(5, "  ")
    plain = await bot.send_message(5, "1 < 2 <tag>")
    assert plain.text == "1 < 2 <tag>"
    assert [m.parse_mode for m in api.sent_to(5)] == [None, None]


async def test_messages_buttons_and_edits(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(9, "pick", reply_markup=keyboard("d1:2:0:0:0", "d1:2:1:0:0"))
    await bot.send_message(9, "no buttons")
    message = api.last_message(9, with_buttons=True)
    assert message.labels == ["b0", "b1"]
    assert message.button("b1").callback_data == "d1:2:1:0:0"
    assert message.button(0).text == "b0"
    assert api.last_message(9).text == "no buttons"
    await bot.edit_message_reply_markup(chat_id=9, message_id=message.message_id)
    assert message.buttons == []
    assert message.original_buttons[1][0].text == "b1"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=9, message_id=message.message_id)
    await bot.edit_message_text("picked", chat_id=9, message_id=message.message_id)
    assert message.text == "picked"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=9, message_id=999)


async def test_callback_queries_are_recorded_once(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(3, "pick", reply_markup=keyboard("d1:2:0:0:0"))
    update = api.press_button(3, "b0")
    query_id = update["callback_query"]["id"]
    assert api.unanswered_callbacks() == [query_id]
    [got] = await bot.get_updates(timeout=0)
    assert got.callback_query is not None
    assert got.callback_query.data == "d1:2:0:0:0"
    assert got.callback_query.message is not None
    await bot.answer_callback_query(query_id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    assert [(a.callback_query_id, a.text, a.user_id) for a in api.answered_callbacks] == [
        (query_id, "ok", 3)
    ]
    assert api.unanswered_callbacks() == []


async def download(bot: Bot, file_id: str) -> bytes:
    buffer = await bot.download(file_id)
    assert buffer is not None
    return buffer.read()


async def test_files_round_trip(api: FakeBotAPI, bot: Bot) -> None:
    photo = b"\xff\xd8" + b"p" * 800
    api.send_photo(4, photo)
    api.send_document(4, b"%PDF-1.4 data", "申报书.pdf", "application/pdf")
    photo_update, doc_update = await bot.get_updates(timeout=0)
    assert photo_update.message is not None
    sizes = photo_update.message.photo or []
    assert [s.width for s in sizes] == [90, 320, 1280]
    assert await download(bot, sizes[-1].file_id) == photo
    assert await download(bot, sizes[0].file_id) != photo
    assert doc_update.message is not None
    document = doc_update.message.document
    assert document is not None
    assert document.file_name == "申报书.pdf"
    assert await download(bot, document.file_id) == b"%PDF-1.4 data"
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")
    await bot.send_document(4, BufferedInputFile(b"xlsx bytes", "汇总表.xlsx"), caption="附件")
    sent = api.last_message(4)
    assert (sent.method, sent.file_name, sent.file_data, sent.text) == (
        "sendDocument", "汇总表.xlsx", b"xlsx bytes", "附件"
    )


async def test_other_kinds_of_message(api: FakeBotAPI, bot: Bot) -> None:
    api.send_sticker(2)
    api.send_voice(2)
    api.send_location(2)
    api.send_contact(2)
    kinds = [u.message.content_type for u in await bot.get_updates(timeout=0) if u.message]
    assert kinds == ["sticker", "voice", "location", "contact"]


async def test_injected_faults(api: FakeBotAPI, bot: Bot) -> None:
    api.flood_next("sendMessage", retry_after=1)
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(1, "a")
    assert flood.value.retry_after == 1
    api.block_next("sendMessage")
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(1, "b")
    await bot.send_message(1, "c")
    assert [m.text for m in api.sent_to(1)] == ["c"]
    assert [c.status for c in api.calls_to("sendMessage")] == [429, 403, 200]
    api.block_user(1)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(1, "d")


async def test_commands_and_webhook(api: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="Start")], language_code="en"
    )
    assert [c.description for c in await bot.get_my_commands()] == ["开始"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
    await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    assert api.webhook is not None
    assert (api.webhook["url"], api.webhook["secret_token"]) == (
        "https://example.org/hook", "s3cret"
    )
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []


async def test_waiting_helpers(api: FakeBotAPI, bot: Bot) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(8, "one")
        await bot.send_message(8, "two")

    task = asyncio.create_task(later())
    [first] = await api.wait_for_messages(8, 1)
    assert first.text == "one"
    [second] = await api.wait_for_messages(8, 1)
    assert second.text == "two"
    await task
    with pytest.raises(TimeoutError):
        await api.wait_for_messages(8, 1, timeout=0.2)
    await bot.send_message(8, "three")
    assert [m.text for m in await api.wait_for_reply(8)] == ["three"]
    await api.settle()
