"""Typed messages: the answer to the current question (or a request for the menu)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType, ContentType
from aiogram.types import Message

from bot.delivery import Converses, answer_message
from dialogs.i18n import Locale
from dialogs.ui import TextIn, UpdateKey


def text_router() -> Router:
    router = Router(name="text")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(on_text, F.content_type == ContentType.TEXT)
    return router


async def on_text(
    message: Message,
    bot: Bot,
    conversation: Converses,
    update_key: UpdateKey | None,
    texts: Locale,
) -> None:
    if message.text is None:
        return
    await answer_message(message, TextIn(text=message.text), bot, conversation, update_key, texts)
