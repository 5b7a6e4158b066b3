"""Failures inside handlers.

The engine commits an answer before any reply is sent, so a failure means at
worst a reply was not delivered; the saved data is untouched.  The user is
told so (rather than facing silence) and the error is logged.  A user who
blocked the bot cannot be told anything, which is not worth more than a log
line.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.types import ErrorEvent, Update

from bot.delivery import quietly
from dialogs.i18n import Locale

logger = logging.getLogger(__name__)


def errors_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router


def _chat_id(update: Update) -> int | None:
    if update.message is not None:
        return update.message.chat.id
    if update.edited_message is not None:
        return update.edited_message.chat.id
    if update.callback_query is not None:
        query = update.callback_query
        return query.message.chat.id if query.message is not None else query.from_user.id
    return None


async def on_error(event: ErrorEvent, bot: Bot, texts: Locale) -> None:
    exc = event.exception
    update = event.update
    if isinstance(exc, TelegramForbiddenError):
        logger.info("update %s: the user blocked the bot (%s)", update.update_id, exc.message)
        return
    logger.error("update %s failed", update.update_id, exc_info=exc)
    text = texts.t("bot.error")
    if update.callback_query is not None:
        # Harmless if the handler answered already: Telegram refuses a second answer.
        await quietly(update.callback_query.answer(text), "answering after an error")
    chat_id = _chat_id(update)
    if chat_id is None:
        return
    try:
        await bot.send_message(chat_id, text, parse_mode=None)
    except Exception:
        logger.exception("could not tell chat %s about the error", chat_id)
